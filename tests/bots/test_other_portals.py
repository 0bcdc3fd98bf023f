"""Robots on the portals of the departments that also have an API (tax, nhsa, bank), in real Chromium
against the real simulators (``create_department_app``: portal and API over one store)."""

from __future__ import annotations

import contextlib
from pathlib import Path

import httpx
import pytest

from bots.errors import PortalChanged
from bots.flows import PortalAccess, dispatch, inquire, withdraw
from simulators.department import create_department_app
from simulators.department_api import count_live_submissions, count_submissions
from tests.bots.conftest import PASSWORD, UPSTREAM_USCC, USERNAME
from tests.support.servers import serve_app

CODES = ("tax", "nhsa", "bank")
SEAL_CODES = {"official": "14012100001201", "financial": "14012100001202", "invoice": "14012100001203"}
TOKEN = "bots-api-token"  # the portal password holds non-ASCII characters; a header cannot
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@contextlib.asynccontextmanager
async def department(tmp_path: Path, code: str, **knobs):
    db = tmp_path / f"{code}.sqlite3"
    app = create_department_app(code, db_path=db, username=USERNAME, password=PASSWORD, token=TOKEN, **knobs)
    async with serve_app(app) as url:
        yield PortalAccess(base_url=url, username=USERNAME, password=PASSWORD), db


def request_for(make_request, code: str):
    request = make_request(code)
    if code == "bank":
        request.upstream["psb_seal"] = {"seal_codes": dict(SEAL_CODES)}
    return request


@pytest.mark.parametrize("code", CODES)
async def test_robot_files_once_and_reads_the_api_departments_result(code, tmp_path, page, make_request, sample_json):
    request = request_for(make_request, code)
    async with department(tmp_path, code) as (access, db):
        seen: list[str] = []
        receipt = await dispatch(page, access, request, on_step=seen.append)
        assert seen[-2:] == ["submit", "receipt"]
        again = await dispatch(page, access, request)
        inquiry = await inquire(page, access, code, request.application_id, receipt.receipt_no)
        async with httpx.AsyncClient(base_url=access.base_url, headers=AUTH) as c:
            api = (await c.get(f"/api/v1/submissions/{receipt.receipt_no}")).json()
    assert again.receipt_no == receipt.receipt_no
    assert count_submissions(db, request.application_id) == 1
    assert inquiry.status == "completed" and inquiry.result is not None
    # what the robot read on the progress page is what the department's API answers
    assert {k: api["result"][k] for k in inquiry.result} == inquiry.result
    if code == "tax":
        assert inquiry.result["taxpayer_id"] == UPSTREAM_USCC
        assert inquiry.result["invoice_types"] == sample_json["tax"]["invoice_types"]
        assert inquiry.result["tax_authority"].startswith("国家税务总局")
    if code == "bank":
        assert inquiry.result["bank_code"] == sample_json["bank_account"]["bank_code"]
        assert api["result"]["opened_at"] == inquiry.result["opened_at"]


async def test_robot_finds_what_the_api_filed(tmp_path, page, make_request):
    request = request_for(make_request, "bank")
    async with department(tmp_path, "bank", process_delay_s=3600) as (access, db):
        async with httpx.AsyncClient(base_url=access.base_url, headers=AUTH) as c:
            body = {
                "application_id": request.application_id,
                "uscc": UPSTREAM_USCC,
                "company_name": request.application.company.name,
                "division_code": "140121",
                "address": request.application.company.address.detail,
                "legal_representative": {"name": "王晓明"},
                "bank_code": "ICBC",
                "branch_name": "中国工商银行太原清徐支行",
                "financial_officer": {"name": "张伟"},
                "seal_codes": SEAL_CODES,
            }
            ticket = (await c.post("/api/v1/submissions", json=body)).json()["ticket"]
        receipt = await dispatch(page, access, request)
        assert receipt.receipt_no == ticket
        assert (await inquire(page, access, "bank", request.application_id, None)).status == "in_review"
        await withdraw(page, access, "bank", request.application_id, ticket, "申请人撤回申请")
        inquiry = await inquire(page, access, "bank", request.application_id, ticket)
    assert inquiry.status == "withdrawn" and inquiry.reason == "申请人撤回申请"
    assert count_submissions(db, request.application_id) == 1
    assert count_live_submissions(db, request.application_id) == 0


async def test_robot_stops_at_a_relabelled_tax_portal(tmp_path, page, make_request):
    request = request_for(make_request, "tax")
    async with department(tmp_path, "tax", version=2, captcha="arithmetic") as (access, db):
        with pytest.raises(PortalChanged):
            await dispatch(page, access, request)
    assert count_submissions(db, request.application_id) == 0


async def test_bank_without_seal_codes_is_refused_before_the_browser(make_request):
    request = make_request("bank")
    with pytest.raises(ValueError, match="seal codes"):
        await dispatch(None, PortalAccess("http://127.0.0.1:9", USERNAME, PASSWORD), request)  # type: ignore[arg-type]
