"""Materials to API departments (catalog ``materials`` + ``materials_by``): tax receives its kinds inline, the
bank by signed link from kaiban's API (real HTTP on loopback, both simulators real); each checks the SHA-256 and
keeps the file; nobody receives a kind the catalog does not name; a link serves its department only."""

from __future__ import annotations

import base64
import hashlib
import time
import uuid

import httpx
import pytest

from activities.api_client import DepartmentApiClient, DepartmentRejected
from activities.material_files import api_materials_for
from api.app import create_app
from domain.form import Application
from domain.requests import DepartmentRequest
from runtime.settings import Settings
from simulators.department_api import create_department_api_app
from simulators.department_api.callbacks import sign_bytes
from simulators.department_api.materials import received
from store.objects import open_objects
from tests.activities.test_api_client import SEAL_CODES, USCC
from tests.support.materials import with_stored_materials
from tests.support.servers import free_port, serve_app

TOKEN = "materials-test-token"


class NoTemporal:
    """The API's Temporal client, never called by the link route."""


def request_for(application: dict, department: str) -> DepartmentRequest:
    upstream: dict = {"amr": {"uscc": USCC, "licence_serial": "L-1", "approved_at": "2026-03-10T10:00:00+08:00"}}
    if department == "bank":
        upstream["psb_seal"] = {"seal_codes": SEAL_CODES}
    return DepartmentRequest(
        application_id="APP-" + uuid.uuid4().hex[:12].upper(),
        department=department,
        application=Application.model_validate(application),
        upstream=upstream,
    )


@pytest.fixture
async def world(tmp_path, sample_json):
    """kaiban's API (the links) and the tax, nhsa and bank simulators on loopback; the sample's materials stored."""
    api_port = free_port()
    settings = Settings(
        data_dir=tmp_path,
        database_url=f"sqlite:///{tmp_path / 'kaiban.sqlite3'}",
        public_base_url=f"http://127.0.0.1:{api_port}",
    )
    application = with_stored_materials(sample_json, open_objects(tmp_path / "objects"))
    apps = {
        code: create_department_api_app(code, db_path=tmp_path / f"{code}.sqlite3", token=TOKEN)
        for code in ("tax", "nhsa", "bank")
    }
    async with serve_app(create_app(settings, client=NoTemporal()), port=api_port) as api:  # type: ignore[arg-type]
        async with serve_app(apps["tax"]) as tax, serve_app(apps["nhsa"]) as nhsa, serve_app(apps["bank"]) as bank:
            yield settings, application, api, {"tax": tax, "nhsa": nhsa, "bank": bank}, tmp_path


async def admin_submissions(base: str, application_id: str) -> list[dict]:
    async with httpx.AsyncClient() as http:
        return (await http.get(f"{base}/_admin/submissions", params={"application_id": application_id})).json()


async def submit(settings, application, urls, department: str, materials=None):
    request = request_for(application, department)
    sent = api_materials_for(settings, department, request.application_id, request.application)
    async with DepartmentApiClient(urls[department], TOKEN) as client:
        await client.submit(request, materials=sent if materials is None else materials)
    return request.application_id, sent


async def test_tax_receives_its_kinds_inline_and_keeps_the_files(world):
    settings, application, _, urls, tmp = world
    app_id, sent = await submit(settings, application, urls, "tax")
    assert [m["kind"] for m in sent] == ["premises_proof", "articles_of_association"]  # the catalog's, no ID card
    assert all("data" in m and "url" not in m for m in sent)
    got = received(tmp / "tax.sqlite3", app_id, with_data=True)
    wanted = {
        m["sha256"]: m for m in application["materials"] if m["kind"] in ("premises_proof", "articles_of_association")
    }
    assert {g["sha256"] for g in got} == set(wanted)
    for g in got:
        assert g["received_by"] == "inline" and hashlib.sha256(g["data"]).hexdigest() == g["sha256"]
        assert g["kind"] == wanted[g["sha256"]]["kind"] and g["concerns"] == "company"
        assert g["content_type"] == "image/png"
        assert open_objects(tmp / "objects").get(g["sha256"]) == g["data"]
    rows = await admin_submissions(urls["tax"], app_id)  # the body is kept without the files' bytes
    assert [m["sha256"] for m in rows[0]["payload"]["materials"]] == [m["sha256"] for m in sent]
    assert all("data" not in m for m in rows[0]["payload"]["materials"])


async def test_the_bank_fetches_its_kinds_by_link_and_checks_them(world):
    settings, application, api, urls, tmp = world
    app_id, sent = await submit(settings, application, urls, "bank")
    assert [m["kind"] for m in sent] == ["id_card", "business_licence", "articles_of_association"]
    assert all(m["url"].startswith(f"{api}/api/v1/materials/files/bank/") and "data" not in m for m in sent)
    got = received(tmp / "bank.sqlite3", app_id, with_data=True)
    assert [(g["kind"], g["concerns"], g["received_by"]) for g in got] == [
        ("id_card", "legal_representative", "link"),
        ("business_licence", "shareholders.1", "link"),
        ("articles_of_association", "company", "link"),
    ]
    assert all(
        hashlib.sha256(g["data"]).hexdigest() == g["sha256"] == s["sha256"] for g, s in zip(got, sent, strict=True)
    )


async def test_a_department_the_catalog_names_no_materials_receives_none(world):
    settings, application, _, urls, tmp = world
    app_id, sent = await submit(settings, application, urls, "nhsa")
    assert sent == [] and received(tmp / "nhsa.sqlite3", app_id) == []
    rows = await admin_submissions(urls["nhsa"], app_id)
    assert rows[0]["payload"]["materials"] == []


async def test_a_file_that_is_not_what_the_body_says_is_refused(world):
    settings, application, _, urls, tmp = world
    request = request_for(application, "tax")
    sent = api_materials_for(settings, "tax", request.application_id, request.application)
    sent[0]["data"] = base64.b64encode(b"\x89PNG\r\n\x1a\nsomething else").decode()
    with pytest.raises(DepartmentRejected, match=r"materials\.0\.sha256"):
        async with DepartmentApiClient(urls["tax"], TOKEN) as client:
            await client.submit(request, materials=sent)
    assert received(tmp / "tax.sqlite3", request.application_id) == []


async def _get(url: str, secret: str | None) -> httpx.Response:
    parts = httpx.URL(url)
    target = f"GET {parts.path}?{parts.query.decode()}".encode()
    async with httpx.AsyncClient() as http:
        return await http.get(url, headers=sign_bytes(secret, target) if secret else {})


async def test_a_link_serves_its_department_only_until_it_expires(world):
    settings, application, _, _, _ = world
    request = request_for(application, "bank")
    link = api_materials_for(settings, "bank", request.application_id, request.application)[0]
    bank_secret, tax_secret = settings.callback_secret("bank"), settings.callback_secret("tax")
    ok = await _get(link["url"], bank_secret)
    assert ok.status_code == 200 and hashlib.sha256(ok.content).hexdigest() == link["sha256"]
    assert ok.headers["content-type"] == link["content_type"]
    assert (await _get(link["url"], None)).status_code == 401  # the link alone serves nothing
    assert (await _get(link["url"], tax_secret)).status_code == 401  # nor to another department
    as_tax = link["url"].replace("/files/bank/", "/files/tax/")
    refused = await _get(as_tax, tax_secret)  # another department's own signature, on the bank's link
    assert refused.status_code == 403 and "材料链接无效或已过期" in refused.json()["detail"]
    other = application["materials"][1]["sha256"]
    assert (await _get(link["url"].replace(link["sha256"], other), bank_secret)).status_code == 403  # another file
    past = api_materials_for(
        settings,
        "bank",
        request.application_id,
        request.application,
        now=time.time() - 2 * settings.material_link_ttl_s,
    )[0]
    assert (await _get(past["url"], bank_secret)).status_code == 403  # expired
