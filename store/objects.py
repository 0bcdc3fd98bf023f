"""kaiban's object storage: files (materials) kept once per content, named by their SHA-256.

``open_objects(url)`` gives the storage of a URL: a folder (``file:///…`` or a plain path; by default
``<data_dir>/objects``) or, in production, S3-compatible storage (``s3://bucket/prefix?endpoint=…&region=…``,
boto3). Both name an object by its SHA-256 and keep one object per content. Calls block: from async code run
them in a thread. A storage that cannot be reached raises ``ObjectStorageUnavailable``.
"""

from __future__ import annotations

import base64
import hashlib
import os
import tempfile
import threading
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qs, urlparse

SHA256_HEX = frozenset("0123456789abcdef")


class ObjectNotFound(KeyError):
    """No object has that digest."""


#: what a stored file is, by its first bytes (never by its name)
MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "application/pdf"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
)


def content_type_of(data: bytes) -> str | None:
    """The file's type by its content: PDF, JPEG or PNG; None for anything else."""
    return next((kind for magic, kind in MAGIC if data.startswith(magic)), None)


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _checked(sha256: str) -> str:
    if len(sha256) != 64 or not set(sha256) <= SHA256_HEX:
        raise ValueError("an object is named by the 64 lowercase hex digits of its SHA-256")
    return sha256


class Objects(Protocol):
    """Content-addressed storage: ``put`` the same bytes twice and one object is kept."""

    def put(self, data: bytes) -> tuple[str, bool]:
        """Store ``data``; its SHA-256 and whether it was new."""
        ...

    def get(self, sha256: str) -> bytes:
        """The bytes stored under ``sha256`` (``ObjectNotFound`` if none)."""
        ...

    def exists(self, sha256: str) -> bool: ...

    def url(self) -> str:
        """Where the objects are (no secrets), for logs."""
        ...


class FolderObjects:
    """Objects as files ``<root>/<2 hex>/<64 hex>``, written atomically (a temporary file renamed)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def path(self, sha256: str) -> Path:
        sha256 = _checked(sha256)
        return self.root / sha256[:2] / sha256

    def put(self, data: bytes) -> tuple[str, bool]:
        digest = sha256_of(data)
        target = self.path(digest)
        if target.exists():
            return digest, False
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, target)  # two writers of the same content: the same bytes, either wins
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return digest, True

    def get(self, sha256: str) -> bytes:
        try:
            return self.path(sha256).read_bytes()
        except FileNotFoundError:
            raise ObjectNotFound(sha256) from None

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def url(self) -> str:
        return self.root.resolve().as_uri()

    def __repr__(self) -> str:
        return f"FolderObjects({str(self.root)!r})"


class ObjectStorageUnavailable(RuntimeError):
    """The object storage could not be reached or refused kaiban's credentials (retry later; an operator's
    problem, not the clerk's). The message names the storage, never a credential."""


def _parse_s3_url(url: str) -> tuple[str, str, dict[str, str]]:
    """``s3://bucket/prefix?endpoint=https://…&region=…`` → (bucket, prefix, options)."""
    parsed = urlparse(url)
    if parsed.username or parsed.password or "@" in parsed.netloc:
        # never echo the URL: what stood before the @ may be a secret
        raise ValueError(
            "an s3:// objects URL carries no credentials: set AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY "
            "(or AWS_SHARED_CREDENTIALS_FILE) in the environment instead"
        )
    bucket = parsed.netloc
    if not bucket:
        raise ValueError("an s3:// objects URL names its bucket: s3://bucket/prefix?endpoint=https://…")
    options: dict[str, str] = {}
    for key, values in parse_qs(parsed.query, keep_blank_values=False).items():
        if key not in S3_OPTIONS:
            raise ValueError(f"unknown option {key!r} of an s3:// objects URL (known: {', '.join(S3_OPTIONS)})")
        options[key] = values[-1]
    endpoint = options.get("endpoint")
    if endpoint and not endpoint.startswith(("http://", "https://")):
        raise ValueError("the endpoint of an s3:// objects URL is an http:// or https:// URL")
    return bucket, parsed.path.strip("/"), options


#: what an ``s3://`` URL may say besides bucket and prefix
S3_OPTIONS = ("endpoint", "region")


class S3Objects:
    """Objects in S3-compatible storage (AWS S3, MinIO, …): ``s3://bucket/prefix?endpoint=https://…&region=…``.

    Keys are ``<prefix>/<2 hex>/<64 hex>`` as the folder's files are; a ``put`` asks (HEAD) before it writes
    and writes conditionally (``If-None-Match: *``), with the SHA-256 for the storage to verify, so the same
    file twice is one object. Credentials are boto3's standard chain (``AWS_ACCESS_KEY_ID`` /
    ``AWS_SECRET_ACCESS_KEY`` / ``AWS_SESSION_TOKEN``, ``AWS_SHARED_CREDENTIALS_FILE``, an instance role),
    never the URL, never logged. The bucket is the deployment's to create. One client, shared by threads.
    """

    def __init__(self, url: str) -> None:
        import boto3  # here: a folder store does not pay for importing boto3
        from botocore.config import Config

        self.bucket, self.prefix, self.options = _parse_s3_url(url)
        endpoint = self.options.get("endpoint")
        config = Config(
            connect_timeout=5,
            read_timeout=30,
            retries={"max_attempts": 4, "mode": "standard"},
            # MinIO and most S3-compatible servers address buckets by path, not by host name
            s3={"addressing_style": "path" if endpoint else "auto"},
        )
        self._client = boto3.session.Session().client(
            "s3", endpoint_url=endpoint, region_name=self.options.get("region"), config=config
        )

    def key(self, sha256: str) -> str:
        sha256 = _checked(sha256)
        name = f"{sha256[:2]}/{sha256}"
        return f"{self.prefix}/{name}" if self.prefix else name

    def _failed(self, exc: Exception, what: str) -> ObjectStorageUnavailable:
        code = _error_code(exc) or type(exc).__name__
        return ObjectStorageUnavailable(f"object storage {self.url()}: {what} failed: {code}")

    def put(self, data: bytes) -> tuple[str, bool]:
        digest = sha256_of(data)
        if self.exists(digest):
            return digest, False
        checksum = base64.b64encode(bytes.fromhex(digest)).decode("ascii")
        args = dict(
            Bucket=self.bucket,
            Key=self.key(digest),
            Body=data,
            ContentType=content_type_of(data) or "application/octet-stream",
            ChecksumSHA256=checksum,
        )
        try:
            self._client.put_object(IfNoneMatch="*", **args)
        except Exception as exc:
            code = _error_code(exc)
            if code in ("PreconditionFailed", "412", "ConditionalRequestConflict", "409"):
                return digest, False  # another writer stored the same content between the HEAD and the PUT
            if code not in ("NotImplemented", "501"):
                raise self._failed(exc, "put") from exc
            try:  # a server without conditional writes: the same bytes under the same name, either wins
                self._client.put_object(**args)
            except Exception as again:
                raise self._failed(again, "put") from again
        return digest, True

    def get(self, sha256: str) -> bytes:
        key = self.key(sha256)  # a malformed name is a ValueError, not the storage's failure
        try:
            answer = self._client.get_object(Bucket=self.bucket, Key=key)
            data: bytes = answer["Body"].read()
        except Exception as exc:
            if _error_code(exc) in ("NoSuchKey", "404", "NotFound"):
                raise ObjectNotFound(sha256) from None
            raise self._failed(exc, "get") from exc
        if sha256_of(data) != sha256:
            raise ObjectStorageUnavailable(
                f"object storage {self.url()}: object {sha256[:12]}… does not match its name"
            )
        return data

    def exists(self, sha256: str) -> bool:
        key = self.key(sha256)
        try:
            self._client.head_object(Bucket=self.bucket, Key=key)
        except Exception as exc:
            if _error_code(exc) in ("404", "NoSuchKey", "NotFound"):
                return False
            raise self._failed(exc, "head") from exc
        return True

    def url(self) -> str:
        query = "&".join(f"{k}={self.options[k]}" for k in S3_OPTIONS if k in self.options)
        return f"s3://{self.bucket}/{self.prefix}" + (f"?{query}" if query else "")

    def __repr__(self) -> str:
        return f"S3Objects({self.url()!r})"


def _error_code(exc: Exception) -> str | None:
    """The S3 error code of a botocore ``ClientError`` (``NoSuchKey``, ``404``, …); None for anything else."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        return str(code) if code is not None else None
    return None


_S3_CLIENTS: dict[str, S3Objects] = {}
_S3_LOCK = threading.Lock()


def open_objects(url: str | Path) -> Objects:
    """The object storage at ``url``: ``file:///path``, a plain path, or ``s3://bucket/prefix?endpoint=…``
    (one client per URL, kept: a client is slow to make and safe to share)."""
    text = str(url)
    parsed = urlparse(text)
    if parsed.scheme == "s3":
        with _S3_LOCK:
            objects = _S3_CLIENTS.get(text)
            if objects is None:
                objects = _S3_CLIENTS[text] = S3Objects(text)
        return objects
    if parsed.scheme == "file":
        return FolderObjects(parsed.path)
    if parsed.scheme in ("", None) or len(parsed.scheme) == 1:  # a path (a Windows drive letter too)
        return FolderObjects(text)
    raise ValueError(f"object storage URL must be file:///… or s3://…, not {parsed.scheme}://")
