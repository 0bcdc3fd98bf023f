"""The object storage: content-addressed, written once, read back; S3 says it is not there yet."""

from __future__ import annotations

import pytest

from store.objects import FolderObjects, ObjectNotFound, open_objects, sha256_of


def test_put_is_by_content_and_once(tmp_path):
    objects = open_objects(tmp_path / "objects")
    digest, new = objects.put(b"a lease")
    assert digest == sha256_of(b"a lease") and new
    assert objects.put(b"a lease") == (digest, False)
    assert objects.get(digest) == b"a lease" and objects.exists(digest)
    files = [p for p in (tmp_path / "objects").rglob("*") if p.is_file()]
    assert [p.name for p in files] == [digest]


def test_missing_and_malformed_names(tmp_path):
    objects = FolderObjects(tmp_path)
    with pytest.raises(ObjectNotFound):
        objects.get("0" * 64)
    with pytest.raises(ValueError):
        objects.get("../../etc/passwd")


def test_file_url_and_s3(tmp_path):
    assert isinstance(open_objects(f"file://{tmp_path}"), FolderObjects)
    with pytest.raises(NotImplementedError, match="not implemented yet"):
        open_objects("s3://kaiban-materials/prod")
