"""kaiban's object storage: files (materials) kept once per content, named by their SHA-256.

``open_objects(url)`` gives the storage of a URL: a folder (``file:///…`` or a plain path; by default
``<data_dir>/objects``) or, in production, S3-compatible storage (``s3://bucket/prefix``). Only the folder
is implemented: ``S3Objects`` says so when it is constructed (README "Materials"). Calls block: from async
code run them in a thread.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Protocol
from urllib.parse import urlparse

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


class S3Objects:
    """S3-compatible storage (``s3://bucket/prefix?endpoint=https://…``): not implemented yet.

    The production deployment names it by URL; until a client is written every use fails with that
    reason, rather than pretending to store files."""

    def __init__(self, url: str) -> None:
        parsed = urlparse(url)
        raise NotImplementedError(
            f"S3-compatible object storage (bucket {parsed.netloc!r}) is not implemented yet: "
            "set KAIBAN_OBJECTS_URL to a folder (file:///…) shared by the API and the workers"
        )


def open_objects(url: str | Path) -> Objects:
    """The object storage at ``url``: ``file:///path``, a plain path, or ``s3://…`` (not implemented)."""
    text = str(url)
    parsed = urlparse(text)
    if parsed.scheme == "s3":
        S3Objects(text)  # raises: not implemented yet

    if parsed.scheme == "file":
        return FolderObjects(parsed.path)
    if parsed.scheme in ("", None) or len(parsed.scheme) == 1:  # a path (a Windows drive letter too)
        return FolderObjects(text)
    raise ValueError(f"object storage URL must be file:///… or s3://…, not {parsed.scheme}://")
