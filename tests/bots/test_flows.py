"""Robot flows in real Chromium against the real portal simulators on loopback."""

from __future__ import annotations

import asyncio
import dataclasses
from decimal import Decimal

import pytest
from fastapi import FastAPI
from fastapi.responses import HTMLResponse

from bots import flows
from bots.errors import (
    BusinessRejection,
    LoginRejected,
    PortalChanged,
    PortalUnavailable,
    SessionExpired,
    SubmissionNotFound,
)
from bots.flows import PortalAccess, dispatch, inquire
from domain.results import validate_result
from simulators import portal as portal_sim
from simulators.department import DEPARTMENT_CODES
from tests.bots.conftest import CODES, PASSWORD, USERNAME
from tests.support.servers import free_port, serve_app

STEPS = {
    "amr": ["form:basic", "form:people", "form:shareholders"],
    "psb_seal": ["form:company", "form:seals"],
    "hrss": ["form:unit", "form:employees"],
    "hpf": ["form:unit", "form:contribution"],
}


def stub_app(status: int, body: str) -> FastAPI:
    """A web server that answers every request with the same page."""
    app = FastAPI()

    @app.api_route("/{path:path}", methods=["GET", "POST"])
    async def anything(path: str) -> HTMLResponse:
        return HTMLResponse(body, status_code=status)

    return app


# --- dispatch ------------------------------------------------------------------------------


@pytest.mark.parametrize("code", CODES)
async def test_dispatch_files_once_and_returns_the_receipt(code, portals, page, make_request):
    portal = portals[code]
    request = make_request(code)
    seen: list[str] = []

    receipt = await dispatch(page, portal.access, request, on_step=seen.append)

    stored = portal.stored(request.application_id)
    assert len(stored) == 1
    assert receipt.receipt_no == stored[0]["receipt_no"]
    assert receipt.submitted_at is not None and receipt.submitted_at.utcoffset().total_seconds() == 8 * 3600
    assert stored[0]["data"]["external_ref"] == request.application_id
    attach = ["attachments"] if portal_sim.PORTAL_SPECS[code].attachments else []  # amr asks for materials
    assert seen == ["login", "search_existing", *STEPS[code], *attach, "submit", "receipt"]

    # a retry (e.g. after a worker crash) finds the submission and files nothing
    async_seen: list[str] = []

    async def on_step(name: str) -> None:
        async_seen.append(name)

    again = await dispatch(page, portal.access, request, on_step=on_step)
    assert again.receipt_no == receipt.receipt_no
    assert portal.count(request.application_id) == 1
    assert async_seen == ["login", "search_existing"]


def _rare_and_varied(data: dict) -> None:
    data["company"]["name"] = "太原𬱖䶮数据科技有限公司"
    data["legal_representative"]["name"] = "王𬱖"
    data["shareholders"][0]["name"] = "王𬱖"
    data["supervisor"]["name"] = "李䶮"
    data["liaison"]["name"] = "赵𬱖䶮"
    data["social_insurance"]["enroll_employees"][0]["name"] = "刘䶮"
    data["seal"]["types"] = ["official", "contract"]
    data["housing_fund"]["contribution_rate"] = "0.07"


@pytest.mark.parametrize("code", CODES)
async def test_the_portal_receives_the_application_unchanged(code, portals, page, make_request):
    """Every mapped field reaches the portal's store as the department expects it; names with
    characters outside the BMP (𬱖) and rare ones (䶮) read back unchanged."""
    request = make_request(code, edit=_rare_and_varied)
    app = request.application
    await dispatch(page, portals[code].access, request)
    data = portals[code].stored(request.application_id)[0]["data"]
    assert data["external_ref"] == request.application_id
    assert data["company_name"] == "太原𬱖䶮数据科技有限公司"
    if code == "amr":
        assert {k: data[k] for k in ("legal_rep_name", "supervisor_name", "liaison_name")} == {
            "legal_rep_name": "王𬱖",
            "supervisor_name": "李䶮",
            "liaison_name": "赵𬱖䶮",
        }
        assert data["entity_type"] == "1100" and data["legal_rep_role"] == "01"
        assert Decimal(data["registered_capital"]) == app.company.registered_capital_wan_yuan
        assert data["division_code"] == "140121" and data["operating_term_years"] == ""
        assert data["address_detail"] == app.company.address.detail
        assert data["business_scope"] == "软件开发；信息技术咨询服务；数据处理服务"
        assert data["supervisor_id_number"] == app.supervisor.id_number
        assert data["financial_officer_mobile"] == app.financial_officer.mobile
        assert [
            (s["kind"], s["name"], s["id_number"], s["contribution"], s["method"], s["deadline"])
            for s in data["shareholders"]
        ] == [
            ("natural_person", "王𬱖", "140121198704150213", "60", "1", "2031-06-30"),
            ("legal_person", "山西汾水投资有限公司", "91140100MA0KQ7WX5W", "40", "1", "2030-12-31"),
        ]
    elif code == "psb_seal":
        assert data["uscc"] == request.uscc
        assert data["legal_rep_name"] == "王𬱖" and data["liaison_name"] == "赵𬱖䶮"
        assert data["seal_types"] == ["GZ", "HTZ"]  # 公章, 合同专用章 checked; the others left unchecked
    elif code == "hrss":
        assert data["uscc"] == request.uscc and data["legal_rep_name"] == "王𬱖"
        assert data["address"] == app.company.address.detail
        assert [(e["name"], e["id_number"]) for e in data["employees"]] == [
            ("刘䶮", "140121199506160714"),
            ("陈静", "140122198802030828"),
        ]
    else:
        assert data["uscc"] == request.uscc and data["liaison_name"] == "赵𬱖䶮"
        assert data["contribution_rate"] == "7" and data["employee_count"] == "12"
        assert data["liaison_mobile"] == app.liaison.mobile


async def test_non_amr_dispatch_needs_the_uscc_from_amr(portals, page, make_request):
    request = make_request("hpf").model_copy(update={"upstream": {}})
    with pytest.raises(ValueError, match="USCC"):
        await dispatch(page, portals["hpf"].access, request)
    assert portals["hpf"].count(request.application_id) == 0
    assert page.url == "about:blank"  # refused before touching the portal


# --- inquire -------------------------------------------------------------------------------


@pytest.mark.parametrize("code", CODES)
async def test_inquire_reads_review_then_the_result(code, portals, page, make_request):
    portal = portals[code]
    request = make_request(code)
    receipt = await dispatch(page, portal.access, request)

    pending = await inquire(page, portal.access, code, request.application_id, None)
    assert pending.status == "in_review" and pending.result is None

    done = await portal.admin("complete", receipt.receipt_no)
    steps: list[str] = []
    inquiry = await inquire(page, portal.access, code, request.application_id, receipt.receipt_no, on_step=steps.append)
    assert steps == ["login", "search", "read_result"]
    assert inquiry.status == "completed"
    assert validate_result(code, inquiry.result) == inquiry.result
    issued = done["result"]
    if code == "psb_seal":
        # the portal's own seal type codes, translated back to ours
        assert set(inquiry.result["seal_codes"]) == set(request.application.seal.types)
        assert sorted(inquiry.result["seal_codes"].values()) == sorted(issued["seal_codes"].values())
    else:
        assert {k: str(v) for k, v in inquiry.result.items()} == issued


async def test_a_rejection_is_read_and_a_corrected_task_is_filed_anew(portals, page, make_request):
    portal = portals["hrss"]
    request = make_request("hrss")
    receipt = await dispatch(page, portal.access, request)
    await portal.admin("reject", receipt.receipt_no, reason="参保人员名单与劳动合同不符，需补正")
    inquiry = await inquire(page, portal.access, "hrss", request.application_id, receipt.receipt_no)
    assert inquiry.status == "rejected"
    assert inquiry.reason == "参保人员名单与劳动合同不符，需补正"
    assert inquiry.result is None

    # after the clerk's correction the task is dispatched again: the closed case does not count
    corrected = await dispatch(page, portal.access, request)
    assert corrected.receipt_no != receipt.receipt_no
    assert portal.count(request.application_id) == 2
    assert (await dispatch(page, portal.access, request)).receipt_no == corrected.receipt_no
    assert portal.count(request.application_id) == 2
    current = await inquire(page, portal.access, "hrss", request.application_id, None)
    assert current.status == "in_review"


async def test_inquire_unknown_application_is_not_found(portals, page, new_id):
    with pytest.raises(SubmissionNotFound) as err:
        await inquire(page, portals["hpf"].access, "hpf", new_id(), None)
    assert not err.value.retryable and err.value.step == "search"


async def test_amr_uscc_carries_to_the_other_portals(portals, browser_pool, make_request):
    """The real chain: amr issues the USCC, the three other robots file under it (two at a time)."""
    amr = make_request("amr")
    async with browser_pool.page() as page:
        receipt = await dispatch(page, portals["amr"].access, amr)
        await portals["amr"].admin("complete", receipt.receipt_no)
        result = await inquire(page, portals["amr"].access, "amr", amr.application_id, receipt.receipt_no)
    uscc = result.result["uscc"]

    async def file(code: str):
        request = make_request(code, application_id=amr.application_id, uscc=uscc)
        async with browser_pool.page() as page:
            return await dispatch(page, portals[code].access, request)

    receipts = await asyncio.gather(*(file(code) for code in ("psb_seal", "hrss", "hpf")))
    assert len({r.receipt_no for r in receipts}) == 3
    for code in ("psb_seal", "hrss", "hpf"):
        stored = portals[code].stored(amr.application_id)
        assert len(stored) == 1 and stored[0]["data"]["uscc"] == uscc


# --- failures ------------------------------------------------------------------------------


def _capital_mismatch(request):
    request.application.shareholders[1].contribution_wan_yuan = Decimal("30")


def _bad_employee_id(request):
    request.application.social_insurance.enroll_employees[0].id_number = "140121199506160715"


def _rate_too_high(request):
    request.application.housing_fund.contribution_rate = Decimal("0.2")


REJECTIONS = {
    # what the portal refuses although our own intake would not have (edited after validation)
    "amr": (_capital_mismatch, "form:shareholders", "与注册资本（100万元）不一致"),
    "psb_seal": (None, "form:company", "统一社会信用代码格式或校验位不正确"),
    "hrss": (_bad_employee_id, "form:employees", "参保人1身份证号码格式或校验位不正确"),
    "hpf": (_rate_too_high, "form:contribution", "应在5%至12%之间"),
}


@pytest.mark.parametrize("code", CODES)
async def test_portal_validation_error_is_a_business_rejection(code, portals, page, make_request):
    spoil, step, message = REJECTIONS[code]
    bad_uscc = "91140121MA0KQ7WX30" if code == "psb_seal" else None
    request = make_request(code, **({"uscc": bad_uscc} if bad_uscc else {}))
    if spoil:
        spoil(request)
    with pytest.raises(BusinessRejection) as err:
        await dispatch(page, portals[code].access, request)
    assert message in err.value.reason
    assert err.value.step == step and err.value.department == code
    assert not err.value.retryable
    assert portals[code].count(request.application_id) == 0


async def test_a_page_without_landmarks_is_portal_changed(page, make_request):
    maintenance = stub_app(200, "<html><body><h2>系统升级公告</h2><p>系统升级中，请稍后访问。</p></body></html>")
    async with serve_app(maintenance) as url:
        access = PortalAccess(url, USERNAME, PASSWORD)
        with pytest.raises(PortalChanged) as err:
            await dispatch(page, access, make_request("amr"))
        assert err.value.step == "login" and "用户登录" in str(err.value)
        assert not err.value.retryable
        with pytest.raises(PortalChanged):
            await inquire(page, access, "amr", "APP-000001", None)


async def test_a_renamed_field_is_portal_changed(tmp_path, page, make_request, monkeypatch):
    """A "new version" of the hpf portal calls the rate field differently: the robot stops before filing."""
    spec = portal_sim.PORTAL_SPECS["hpf"]
    step = spec.steps[1]
    renamed = dataclasses.replace(
        step,
        fields=tuple(
            dataclasses.replace(f, label="缴存比例") if f.name == "contribution_rate" else f for f in step.fields
        ),
    )
    monkeypatch.setitem(portal_sim.PORTAL_SPECS, "hpf", dataclasses.replace(spec, steps=(spec.steps[0], renamed)))
    db = tmp_path / "hpf-v2.sqlite3"
    app = portal_sim.create_portal_app("hpf", db_path=db, username=USERNAME, password=PASSWORD)
    request = make_request("hpf")
    async with serve_app(app) as url:
        with pytest.raises(PortalChanged) as err:
            await dispatch(page, PortalAccess(url, USERNAME, PASSWORD), request)
    assert "单位缴存比例（%）" in str(err.value) and err.value.step == "form:contribution"
    assert portal_sim.count_submissions(db, request.application_id) == 0


async def test_a_closed_port_is_portal_unavailable(page, make_request):
    access = PortalAccess(f"http://127.0.0.1:{free_port()}", USERNAME, PASSWORD)
    with pytest.raises(PortalUnavailable) as err:
        await dispatch(page, access, make_request("psb_seal"))
    assert err.value.retryable and err.value.step == "login"
    assert "ERR_CONNECTION_REFUSED" in str(err.value)
    with pytest.raises(PortalUnavailable):
        await inquire(page, access, "psb_seal", "APP-000001", None)


async def test_a_server_error_is_portal_unavailable(page, make_request):
    async with serve_app(stub_app(503, "<h1>Service Unavailable</h1>")) as url:
        with pytest.raises(PortalUnavailable, match="HTTP 503"):
            await dispatch(page, PortalAccess(url, USERNAME, PASSWORD), make_request("hrss"))


async def test_wrong_credentials_are_login_rejected(portals, page, make_request):
    access = dataclasses.replace(portals["amr"].access, password="not-the-password")
    request = make_request("amr")
    with pytest.raises(LoginRejected) as err:
        await dispatch(page, access, request)
    assert "用户名或密码错误" in str(err.value) and not err.value.retryable
    assert "not-the-password" not in str(err.value) and "not-the-password" not in repr(access)
    assert portals["amr"].count(request.application_id) == 0


async def test_session_lost_mid_form_logs_in_again_and_files_once(tmp_path, page, make_request):
    db = tmp_path / "hpf.sqlite3"
    app = portal_sim.create_portal_app("hpf", db_path=db, username=USERNAME, password=PASSWORD)
    seen: list[str] = []

    def on_step(name: str) -> None:
        seen.append(name)
        if name == "form:contribution":
            app.state.sessions.clear()  # the portal forgets every session (timeout, restart)

    request = make_request("hpf")
    async with serve_app(app) as url:
        receipt = await dispatch(page, PortalAccess(url, USERNAME, PASSWORD), request, on_step=on_step)
    assert seen == ["login", "search_existing", "form:unit", "form:contribution", "relogin", "submit", "receipt"]
    assert [s["receipt_no"] for s in portal_sim.list_submissions(db)] == [receipt.receipt_no]


async def test_session_lost_too_often_is_session_expired(tmp_path, page, make_request, monkeypatch):
    monkeypatch.setattr(flows, "MAX_RELOGINS", 0)
    db = tmp_path / "hpf.sqlite3"
    app = portal_sim.create_portal_app("hpf", db_path=db, username=USERNAME, password=PASSWORD)

    def on_step(name: str) -> None:
        if name == "form:contribution":
            app.state.sessions.clear()

    request = make_request("hpf")
    async with serve_app(app) as url:
        with pytest.raises(SessionExpired) as err:
            await dispatch(page, PortalAccess(url, USERNAME, PASSWORD), request, on_step=on_step)
    assert err.value.retryable and err.value.step == "form:contribution"
    assert portal_sim.count_submissions(db, request.application_id) == 0


def test_every_department_has_a_flow_and_unknown_ones_are_refused():
    # every simulated department has a portal (the API departments' too: simulators.department)
    assert set(flows.FLOWS) == set(DEPARTMENT_CODES)
    assert set(CODES) == set(portal_sim.PORTAL_CODES) < set(flows.FLOWS)
    with pytest.raises(ValueError, match="customs"):
        flows._flow("customs")
