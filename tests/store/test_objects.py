"""The object storage, on both backends (a folder, and S3 through moto's real S3 API): content-addressed,
written once, read back; the URL of S3 storage and what it refuses."""

from __future__ import annotations

import threading
from urllib.parse import urlparse

import pytest

from store.objects import (
    FolderObjects,
    ObjectNotFound,
    ObjectStorageUnavailable,
    S3Objects,
    open_objects,
    sha256_of,
)
from tests.support.s3 import list_keys, s3_endpoint, s3_objects_url  # noqa: F401  (fixtures)
from tests.support.servers import free_port

PNG = b"\x89PNG\r\n\x1a\n" + b"a premises proof"


@pytest.fixture(params=["folder", "s3"])
def objects_url(request, tmp_path) -> str:
    if request.param == "folder":
        return str(tmp_path / "objects")
    return request.getfixturevalue("s3_objects_url")


def stored_names(url: str, tmp_path) -> list[str]:
    """The names of every object the storage holds, as its backend lists them."""
    parsed = urlparse(url)
    if parsed.scheme == "s3":
        endpoint = url.split("endpoint=", 1)[1].split("&", 1)[0]
        return [key.rsplit("/", 1)[-1] for key in list_keys(endpoint, parsed.netloc)]
    return sorted(p.name for p in (tmp_path / "objects").rglob("*") if p.is_file())


def test_put_is_by_content_and_once(objects_url, tmp_path):
    objects = open_objects(objects_url)
    digest, new = objects.put(PNG)
    assert digest == sha256_of(PNG) and new
    assert objects.put(PNG) == (digest, False)
    assert objects.get(digest) == PNG and objects.exists(digest)
    assert stored_names(objects_url, tmp_path) == [digest]
    other, new = objects.put(b"%PDF-1.7 articles")
    assert new and sorted(stored_names(objects_url, tmp_path)) == sorted([digest, other])


def test_two_writers_of_the_same_content_keep_one_object(objects_url, tmp_path):
    objects = open_objects(objects_url)
    answers: list[tuple[str, bool]] = []
    threads = [threading.Thread(target=lambda: answers.append(objects.put(PNG))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert {d for d, _ in answers} == {sha256_of(PNG)}
    assert any(new for _, new in answers)
    assert stored_names(objects_url, tmp_path) == [sha256_of(PNG)]


def test_missing_and_malformed_names(objects_url):
    objects = open_objects(objects_url)
    assert not objects.exists("0" * 64)
    with pytest.raises(ObjectNotFound):
        objects.get("0" * 64)
    with pytest.raises(ValueError):
        objects.get("../../etc/passwd")


def test_file_url(tmp_path):
    assert isinstance(open_objects(f"file://{tmp_path}"), FolderObjects)


def test_s3_url_keys_and_shared_client(s3_objects_url):  # noqa: F811
    objects = open_objects(s3_objects_url)
    assert isinstance(objects, S3Objects) and open_objects(s3_objects_url) is objects
    assert objects.bucket == urlparse(s3_objects_url).netloc and objects.prefix == "materials"
    digest = sha256_of(PNG)
    assert objects.key(digest) == f"materials/{digest[:2]}/{digest}"
    assert objects.url() == s3_objects_url  # no secret in it: the credentials come from the environment


def test_s3_url_refuses_credentials_and_unknown_options():
    with pytest.raises(ValueError, match="carries no credentials") as refused:
        S3Objects("s3://AKIASECRET:hunter2@bucket/prefix")
    assert "hunter2" not in str(refused.value) and "AKIASECRET" not in str(refused.value)
    with pytest.raises(ValueError, match="unknown option 'secret'"):
        S3Objects("s3://bucket/prefix?secret=x")
    with pytest.raises(ValueError, match="names its bucket"):
        S3Objects("s3:///prefix")


def test_s3_unreachable_is_unavailable_without_secrets(s3_endpoint, monkeypatch):  # noqa: F811
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "do-not-print-me")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    objects = S3Objects(f"s3://nobody/x?endpoint=http://127.0.0.1:{free_port()}&region=us-east-1")
    with pytest.raises(ObjectStorageUnavailable, match="head failed") as failed:
        objects.put(PNG)
    assert "do-not-print-me" not in str(failed.value)


def test_s3_missing_bucket_is_unavailable(s3_endpoint):  # noqa: F811
    objects = S3Objects(f"s3://no-such-bucket-kaiban/x?endpoint={s3_endpoint}&region=us-east-1")
    with pytest.raises(ObjectStorageUnavailable):
        objects.get(sha256_of(PNG))
