"""The API bodies of the departments that used to have only a portal (amr, psb_seal, hrss, hpf), filed
with the real client at the real simulators (``create_department_app``); results read back and
validated with each department's result schema."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from stdnum.cn import uscc as stdnum_uscc

from activities.api_client import DepartmentApiClient, build_payload
from domain.form import Application
from domain.requests import DepartmentRequest
from domain.results import Inquiry, validate_result
from simulators import portal
from simulators.department import create_department_app
from tests.support.servers import serve_app

TOKEN = "other-channel-token"
BASE17 = "91140121MA0KQ7WX5"
USCC = BASE17 + stdnum_uscc.calc_check_digit(BASE17)


def request_for(sample_json: dict, department: str, application_id: str | None = None) -> DepartmentRequest:
    upstream = {} if department == "amr" else {"amr": {"uscc": USCC}}
    return DepartmentRequest(
        application_id=application_id or "APP-" + uuid.uuid4().hex[:12].upper(),
        department=department,
        application=Application.model_validate(sample_json),
        upstream=upstream,
    )


async def until_done(client: DepartmentApiClient, receipt_no: str) -> Inquiry:
    for _ in range(200):
        inquiry = await client.inquire(receipt_no)
        if inquiry.status != "in_review":
            return inquiry
        await asyncio.sleep(0.02)
    raise AssertionError("department never finished")


def test_payloads_carry_what_each_department_needs(sample_json):
    amr = build_payload(request_for(sample_json, "amr"))
    assert "uscc" not in amr and amr["registered_capital_wan_yuan"] == "100"
    assert amr["legal_representative"]["role"] == "executive_director"
    assert [s.get("id_number") or s.get("uscc") for s in amr["shareholders"]] == [
        "140121198704150213",
        "91140100MA0KQ7WX5W",
    ]
    psb = build_payload(request_for(sample_json, "psb_seal"))
    assert psb["uscc"] == USCC and psb["seal_types"] == sample_json["seal"]["types"]
    hrss = build_payload(request_for(sample_json, "hrss"))
    assert [e["name"] for e in hrss["employees"]] == ["刘洋", "陈静"]
    hpf = build_payload(request_for(sample_json, "hpf"))
    assert hpf["contribution_rate"] == "0.12" and hpf["employees_expected"] == 12
    for code in ("psb_seal", "hrss", "hpf"):
        request = request_for(sample_json, code)
        request.upstream.pop("amr")
        with pytest.raises(ValueError, match="uscc"):
            build_payload(request)


@pytest.mark.parametrize("code", ["amr", "psb_seal", "hrss", "hpf"])
async def test_the_api_channel_files_once_and_reads_a_valid_result(code, tmp_path, sample_json):
    db = tmp_path / f"{code}.sqlite3"
    app = create_department_app(code, db_path=db, username="u", password="p", token=TOKEN)
    request = request_for(sample_json, code)
    async with serve_app(app) as url, DepartmentApiClient(url, TOKEN) as client:
        receipt = await client.submit(request)
        again = await client.submit(request)
        inquiry = await until_done(client, receipt.receipt_no)
    assert again.receipt_no == receipt.receipt_no
    assert portal.count_submissions(db, request.application_id) == 1
    assert inquiry.status == "completed" and inquiry.result is not None
    assert validate_result(code, inquiry.result) == inquiry.result
    if code == "amr":
        assert stdnum_uscc.is_valid(inquiry.result["uscc"])
    if code == "psb_seal":
        assert set(inquiry.result["seal_codes"]) == set(sample_json["seal"]["types"])


async def test_a_portal_departments_api_refuses_what_its_portal_refuses(tmp_path, sample_json):
    app = create_department_app("amr", db_path=tmp_path / "amr.sqlite3", username="u", password="p", token=TOKEN)
    body = build_payload(request_for(sample_json, "amr"))
    body["registered_capital_wan_yuan"] = "90"  # the contributions add up to 100
    async with serve_app(app) as url, httpx.AsyncClient(base_url=url) as http:
        r = await http.post("/api/v1/submissions", json=body, headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 422 and "注册资本" in r.json()["reason"]
    assert portal.count_submissions(tmp_path / "amr.sqlite3", body["application_id"]) == 0
