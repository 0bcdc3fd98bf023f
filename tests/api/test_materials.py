"""Materials through the HTTP API: stored once per content, refused by type and size, checked at intake."""

from __future__ import annotations

import io

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from activities.material_models import MaterialReadingInput
from api.app import create_app
from runtime.access import DEV_CLERKS
from runtime.settings import Settings
from store.objects import S3Objects, open_objects
from tests.support.s3 import list_keys, s3_endpoint, s3_objects_url  # noqa: F401  (fixtures)
from workflows.models import ApplicationInput

CLERK = {"Authorization": f"Bearer {DEV_CLERKS['TY-XD-01']}"}  # the sample's window
OTHER_CLERK = {"Authorization": f"Bearer {DEV_CLERKS['TY-XD-02']}"}


class RecordingClient:
    """Stands in for the Temporal client: records the workflows the API starts."""

    def __init__(self) -> None:
        self.started: list = []

    async def start_workflow(self, _run, inp, **kwargs):
        self.started.append((inp, kwargs))


def png(seed: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (seed % 256, 80, 160)).save(out, format="PNG")
    return out.getvalue()


class Stored:
    """What the object storage holds: (name, bytes) of every object, on either backend."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def objects(self) -> list[tuple[str, bytes]]:
        url = self.settings.objects_url
        if url is None:
            root = self.settings.data_dir / "objects"
            return sorted((p.name, p.read_bytes()) for p in root.rglob("*") if p.is_file()) if root.exists() else []
        objects = open_objects(url)
        assert isinstance(objects, S3Objects)
        endpoint = objects.options["endpoint"]
        names = [key.rsplit("/", 1)[-1] for key in list_keys(endpoint, objects.bucket)]
        return [(name, objects.get(name)) for name in names]


@pytest.fixture(params=["folder", "s3"])
def app_dir(request, tmp_path):
    """The API on a folder store and on S3 (moto's server): every upload test runs on both."""
    objects_url = request.getfixturevalue("s3_objects_url") if request.param == "s3" else None
    settings = Settings(
        data_dir=tmp_path,
        database_url=f"sqlite:///{tmp_path / 'kaiban.sqlite3'}",
        materials_must_be_stored=True,
        material_max_bytes=64 * 1024,
        objects_url=objects_url,
    )
    client = RecordingClient()
    with TestClient(create_app(settings, client=client), headers=CLERK) as http:
        yield http, client, Stored(settings)


@pytest.fixture(params=["folder", "s3"])
def full_size_app(request, tmp_path):
    """As ``app_dir``, with the default size limit (generated materials are 50-110 KB)."""
    objects_url = request.getfixturevalue("s3_objects_url") if request.param == "s3" else None
    settings = Settings(
        data_dir=tmp_path,
        database_url=f"sqlite:///{tmp_path / 'kaiban.sqlite3'}",
        materials_must_be_stored=True,
        objects_url=objects_url,
    )
    client = RecordingClient()
    with TestClient(create_app(settings, client=client), headers=CLERK) as http:
        yield http, client, Stored(settings)


def upload(http, data: bytes, kind: str = "premises_proof", name: str = "租赁合同.png", headers=None):
    return http.post("/api/v1/materials", files={"file": (name, data)}, data={"kind": kind}, headers=headers)


def test_the_same_file_twice_is_one_object_and_one_material(app_dir):
    http, _, root = app_dir
    data = png(1)
    first = upload(http, data)
    assert first.status_code == 201, first.text
    again = upload(http, data, name="另一个名字.png")
    assert again.status_code == 201
    a, b = first.json(), again.json()
    assert a["material_id"] == b["material_id"]
    assert a["sha256"] == b["sha256"]
    assert a["content_type"] == "image/png" and a["kind"] == "premises_proof" and a["size_bytes"] == len(data)
    assert root.objects() == [(a["sha256"], data)]
    got = http.get(f"/api/v1/materials/{a['material_id']}")
    assert got.status_code == 200 and got.json()["sha256"] == a["sha256"]


def test_another_window_does_not_see_the_material(app_dir):
    http, _, _ = app_dir
    material_id = upload(http, png(2)).json()["material_id"]
    r = http.get(f"/api/v1/materials/{material_id}", headers=OTHER_CLERK)
    assert r.status_code == 404
    assert "未找到材料" in r.json()["detail"]


def test_a_file_that_is_no_pdf_jpeg_or_png_is_refused_whatever_its_name(app_dir):
    http, _, root = app_dir
    r = upload(http, b"<html>not a picture</html>" * 10, name="身份证.png")
    assert r.status_code == 415
    assert r.json()["code"] == "material_type_refused"
    assert "PDF、JPEG 或 PNG" in r.json()["detail"] and "按文件内容判断" in r.json()["detail"]
    assert root.objects() == []


def test_object_storage_that_cannot_be_reached_is_503_in_chinese(tmp_path, s3_endpoint):  # noqa: F811
    from tests.support.servers import free_port

    settings = Settings(
        data_dir=tmp_path,
        database_url=f"sqlite:///{tmp_path / 'kaiban.sqlite3'}",
        objects_url=f"s3://kaiban/m?endpoint=http://127.0.0.1:{free_port()}&region=us-east-1",
    )
    with TestClient(create_app(settings, client=RecordingClient()), headers=CLERK) as http:
        r = upload(http, png(9))
    assert r.status_code == 503, r.text
    assert r.json()["code"] == "object_storage_unavailable" and "材料存储暂不可用" in r.json()["detail"]


def test_an_oversized_file_is_refused_with_the_limit(app_dir):
    http, _, _ = app_dir
    big = b"%PDF-1.7\n" + b"0" * (64 * 1024)
    r = upload(http, big, name="章程.pdf")
    assert r.status_code == 413
    assert r.json()["code"] == "material_too_large"
    assert "最多 0.0625 MiB" in r.json()["detail"]


def test_an_unknown_kind_is_422(app_dir):
    http, _, _ = app_dir
    r = upload(http, png(3), kind="passport")
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "kind"


def test_a_department_or_supervisor_cannot_upload(app_dir):
    http, _, _ = app_dir
    r = upload(http, png(4), headers={"Authorization": "Bearer supervisor-dev-token"})
    assert r.status_code == 403


def test_materials_of_an_application_must_be_uploaded_files(app_dir, sample_json):
    http, client, _ = app_dir
    r = http.post("/api/v1/applications", json=sample_json)
    assert r.status_code == 422, r.text
    errors = {e["field"]: e for e in r.json()["errors"]}
    assert set(errors) == {"materials.0.sha256", "materials.1.sha256"}
    assert errors["materials.0.sha256"]["type"] == "material_not_stored"
    assert "尚未上传" in errors["materials.0.sha256"]["message"]
    assert not [inp for inp, _ in client.started if isinstance(inp, ApplicationInput)]
    for i, material in enumerate(sample_json["materials"]):
        material["sha256"] = upload(http, png(10 + i), kind=material["kind"]).json()["sha256"]
    r = http.post("/api/v1/applications", json=sample_json)
    assert r.status_code == 202, r.text
    started = [inp for inp, _ in client.started if isinstance(inp, ApplicationInput)]
    assert [inp.application_id for inp in started] == [r.json()["application_id"]]
    # each upload asked for its reading (this stand-in client answers none: stored without fields)
    assert sum(isinstance(inp, MaterialReadingInput) for inp, _ in client.started) == 2


def test_another_windows_upload_does_not_count(app_dir, sample_json):
    http, _, _ = app_dir
    other = upload(http, png(20), headers={"Authorization": f"Bearer {DEV_CLERKS['TY-XD-02']}"}).json()
    sample_json["materials"] = [{"kind": "premises_proof", "filename": "租赁合同.png", "sha256": other["sha256"]}]
    r = http.post("/api/v1/applications", json=sample_json)
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == ["materials.0.sha256"]


def test_an_id_card_must_say_whose_it_is(app_dir, sample_json):
    http, _, _ = app_dir
    sha = upload(http, png(30), kind="id_card").json()["sha256"]
    sample_json["materials"] = [{"kind": "id_card", "filename": "身份证.png", "sha256": sha}]
    r = http.post("/api/v1/applications", json=sample_json)
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == ["materials.0.concerns"]
    sample_json["materials"][0]["concerns"] = "shareholders.9"
    r = http.post("/api/v1/applications", json=sample_json)
    assert "没有第 10 位股东" in r.json()["errors"][0]["message"]
    sample_json["materials"][0]["concerns"] = "legal_representative"
    assert http.post("/api/v1/applications", json=sample_json).status_code == 202


def test_an_application_with_its_uploaded_materials_is_accepted(full_size_app, sample_json):
    """The helper the suites use (tests/support/materials.py): generated files uploaded, real sha256s, 202."""
    from tests.support.materials import with_uploaded_materials

    http, client, stored = full_size_app
    body = with_uploaded_materials(http, sample_json)
    assert [m["kind"] for m in body["materials"]] == [
        "id_card",
        "business_licence",
        "premises_proof",
        "articles_of_association",
    ]
    assert {name for name, _ in stored.objects()} == {m["sha256"] for m in body["materials"]}
    r = http.post("/api/v1/applications", json=body)
    assert r.status_code == 202, r.text
    assert [inp for inp, _ in client.started if isinstance(inp, ApplicationInput)]


def test_make_demo_uploads_its_materials_before_it_submits(full_size_app, sample_json):
    """cli.demo draws each application's materials, uploads them, and its application passes the check."""
    from cli.demo import upload_materials

    http, _, stored = full_size_app
    sample_json["materials"] = upload_materials(http, "", sample_json, CLERK, seed=1)
    assert {name for name, _ in stored.objects()} == {m["sha256"] for m in sample_json["materials"]}
    assert http.post("/api/v1/applications", json=sample_json).status_code == 202
