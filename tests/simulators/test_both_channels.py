"""Every simulated department serves its portal and its JSON API over one store: one filing per
application whichever channel files it (httpx through ASGI, no browser)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json

import httpx
import pytest
from fastapi import FastAPI, Request
from stdnum.cn import uscc as uscc_std

from simulators import department_api, portal
from simulators.department import create_department_app
from tests.simulators.test_department_api import app_id, person
from tests.simulators.test_department_api import body as api_body
from tests.simulators.test_portal import GIVEN_USCC, PASSWORD, USER, form_steps, log_in, records, submit_all
from tests.support.servers import serve_app

TOKEN = "sim-both-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PORTAL_NATIVE = ("amr", "psb_seal", "hrss", "hpf")
API_NATIVE = ("tax", "nhsa", "bank")


def registration_body(code: str, application_id: str, **over) -> dict:
    """A valid JSON body for the API of a portal department."""
    unit = {"application_id": application_id, "uscc": GIVEN_USCC, "company_name": "太原晋创云数据科技有限公司"}
    if code == "amr":
        b = {
            "application_id": application_id,
            "company_name": "太原晋创云数据科技有限公司",
            "entity_type": "limited_liability_company",
            "registered_capital_wan_yuan": "100",
            "division_code": "140121",
            "address": "太原市清徐县清源镇文源路 18 号",
            "business_scope": ["软件开发", "数据处理服务"],
            "operating_term_years": None,
            "legal_representative": {**person(), "role": "executive_director"},
            "supervisor": {"name": "李娜", "id_number": "140122199007280443", "mobile": "13903510288"},
            "financial_officer": {"name": "张伟", "id_number": "140123197811050152", "mobile": "13700350917"},
            "liaison": {"name": "赵敏", "id_number": "140100199212010268", "mobile": "15135106633"},
            "shareholders": [
                {
                    "kind": "natural_person",
                    "name": "王晓明",
                    "id_number": "140121198704150213",
                    "contribution_wan_yuan": "60",
                    "contribution_method": "currency",
                    "contribution_deadline": "2031-06-30",
                },
                {
                    "kind": "legal_person",
                    "name": "山西汾水投资有限公司",
                    "uscc": "91140100MA0KQ7WX5W",
                    "contribution_wan_yuan": "40",
                    "contribution_method": "currency",
                    "contribution_deadline": "2030-12-31",
                },
            ],
        }
    elif code == "psb_seal":
        b = {
            **unit,
            "legal_representative": {"name": "王晓明", "id_number": "140121198704150213"},
            "seal_types": ["official", "financial"],
            "liaison": {"name": "赵敏", "mobile": "15135106633"},
        }
    elif code == "hrss":
        b = {
            **unit,
            "address": "太原市清徐县清源镇文源路 18 号",
            "legal_representative": {"name": "王晓明", "id_number": "140121198704150213"},
            "employees": [{"name": "刘洋", "id_number": "140121199506160714"}],
        }
    else:
        b = {
            **unit,
            "employees_expected": 12,
            "contribution_rate": "0.12",
            "liaison": {"name": "赵敏", "id_number": "140100199212010268", "mobile": "15135106633"},
        }
    b.update(over)
    return b


def api_portal_steps(code: str, application_id: str) -> list[dict]:
    """Valid answers for every wizard step of the tax, nhsa and bank portals."""
    unit = {
        "external_ref": application_id,
        "uscc": GIVEN_USCC,
        "company_name": "太原晋创云数据科技有限公司",
        "division_code": "140121",
        "address": "太原市清徐县清源镇文源路 18 号",
        "legal_rep_name": "王晓明",
        "legal_rep_id_number": "140121198704150213",
    }
    if code == "tax":
        officers = {
            "financial_officer_name": "张伟",
            "financial_officer_id_number": "140123197811050152",
            "financial_officer_mobile": "13700350917",
            "tax_officer_name": "赵敏",
            "tax_officer_id_number": "140100199212010268",
            "tax_officer_mobile": "",
        }
        return [unit, officers, {"invoice_types": ["digital_general"], "expected_amount": "50"}]
    if code == "nhsa":
        return [unit, {"liaison_name": "赵敏", "liaison_mobile": "15135106633", "employees_expected": "12"}]
    account = {
        "account_type": "basic",
        "bank_code": "ICBC",
        "branch_name": "中国工商银行太原清徐支行",
        "financial_officer_name": "张伟",
        "financial_officer_id_number": "140123197811050152",
    }
    return [unit, account, {"seal_official": "14012100000101", "seal_financial": "14012100000102"}]


def make(code: str, tmp_path, **kw) -> tuple[FastAPI, object]:
    db = tmp_path / f"{code}.sqlite3"
    return create_department_app(code, db_path=db, username=USER, password=PASSWORD, token=TOKEN, **kw), db


def client_for(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://dept")


def json_body(code: str, application_id: str) -> dict:
    if code in PORTAL_NATIVE:
        return registration_body(code, application_id)
    return api_body(code, application_id, uscc=GIVEN_USCC)


def wizard(code: str, application_id: str) -> list[dict]:
    return form_steps(code, application_id) if code in PORTAL_NATIVE else api_portal_steps(code, application_id)


def count(code: str, db, application_id: str) -> int:
    module = portal if code in PORTAL_NATIVE else department_api
    return module.count_submissions(db, application_id)


async def post(c: httpx.AsyncClient, b: dict) -> httpx.Response:
    return await c.post("/api/v1/submissions", json=b, headers={**AUTH, "Idempotency-Key": b["application_id"]})


@pytest.mark.parametrize("code", PORTAL_NATIVE + API_NATIVE)
async def test_api_then_portal_is_one_filing(code, tmp_path):
    app, db = make(code, tmp_path)
    aid = app_id()
    async with client_for(app) as c:
        first = await post(c, json_body(code, aid))
        assert first.status_code == 202, first.text
        ticket = first.json()["ticket"]
        again = await post(c, json_body(code, aid))
        assert again.status_code == 200 and again.json()["ticket"] == ticket
        await log_in(c)
        receipt = await submit_all(c, wizard(code, aid))
        assert receipt == ticket  # the portal recognises the API's filing by its 外部业务编号
        page = (await c.get("/progress", params={"external_ref": aid})).text
        assert [r["receipt_no"] for r in records(page)] == [ticket]
        inquiry = (await c.get(f"/api/v1/submissions/{ticket}", headers=AUTH)).json()
    assert inquiry["status"] == "completed" and inquiry["department"] == code
    assert count(code, db, aid) == 1


@pytest.mark.parametrize("code", PORTAL_NATIVE + API_NATIVE)
async def test_portal_then_api_is_one_filing(code, tmp_path):
    app, db = make(code, tmp_path)
    aid = app_id()
    async with client_for(app) as c:
        await log_in(c)
        receipt = await submit_all(c, wizard(code, aid))
        r = await post(c, json_body(code, aid))
        assert r.status_code == 200, r.text
        assert r.json()["ticket"] == receipt
        listed = (await c.get("/api/v1/submissions", params={"application_id": aid}, headers=AUTH)).json()
        assert [s["ticket"] for s in listed] == [receipt]
    assert count(code, db, aid) == 1


async def test_amr_api_issues_the_portals_uscc_and_the_progress_page_shows_it(tmp_path):
    app, db = make("amr", tmp_path)
    aid = app_id()
    async with client_for(app) as c:
        ticket = (await post(c, registration_body("amr", aid))).json()["ticket"]
        assert ticket.startswith("SCJG")  # the portal's receipt number
        result = (await c.get(f"/api/v1/submissions/{ticket}", headers=AUTH)).json()["result"]
        await log_in(c)
        shown = records((await c.get("/progress", params={"receipt_no": ticket})).text)[0]
    assert uscc_std.is_valid(result["uscc"]) and result["uscc"][2:8] == "140121"
    assert shown["uscc"] == result["uscc"] and shown["status"] == "已办结"
    [stored] = portal.list_submissions(db)
    assert stored["channel"] == "api" and stored["data"]["shareholders"][1]["id_number"] == "91140100MA0KQ7WX5W"


async def test_psb_seal_api_answers_seal_codes_in_its_own_words(tmp_path):
    app, _db = make("psb_seal", tmp_path)
    async with client_for(app) as c:
        ticket = (await post(c, registration_body("psb_seal", app_id()))).json()["ticket"]
        result = (await c.get(f"/api/v1/submissions/{ticket}", headers=AUTH)).json()["result"]
    assert set(result["seal_codes"]) == {"official", "financial"}


async def test_api_of_a_portal_department_applies_the_portals_checks(tmp_path):
    app, db = make("amr", tmp_path)
    aid = app_id()
    bad = registration_body("amr", aid, registered_capital_wan_yuan="90")  # contributions add up to 100
    async with client_for(app) as c:
        r = await post(c, bad)
        assert r.status_code == 422 and "注册资本" in r.json()["reason"]
        r = await post(c, registration_body("amr", aid, unknown="x"))
        assert r.status_code == 422
        r = await c.post("/api/v1/submissions", json=registration_body("amr", aid))
        assert r.status_code == 401
    assert count("amr", db, aid) == 0


async def test_amr_api_rejects_a_taken_name_like_its_portal(tmp_path):
    app, _db = make("amr", tmp_path)
    async with client_for(app) as c:
        b = registration_body("amr", app_id(), company_name="太原测试驳回科技有限公司")
        ticket = (await post(c, b)).json()["ticket"]
        answer = (await c.get(f"/api/v1/submissions/{ticket}", headers=AUTH)).json()
    assert answer["status"] == "rejected" and "名称重复" in answer["reason"]


async def test_withdrawal_through_one_channel_is_seen_on_the_other(tmp_path):
    for code in ("hpf", "bank"):
        app, db = make(code, tmp_path, process_delay_s=3600)  # in review: the applicant's to withdraw
        aid = app_id()
        async with client_for(app) as c:
            ticket = (await post(c, json_body(code, aid))).json()["ticket"]
            await log_in(c)
            r = await c.post(f"/cases/{ticket}/withdrawal", data={"reason": "申请人撤回"})
            assert r.status_code == 303
            answer = (await c.get(f"/api/v1/submissions/{ticket}", headers=AUTH)).json()
            assert answer["status"] == "withdrawn" and answer["reason"] == "申请人撤回"
            # a new filing after the withdrawal is a new case, through either channel
            fresh = await post(c, json_body(code, aid))
            assert fresh.status_code == 202 and fresh.json()["ticket"] != ticket
        assert count(code, db, aid) == 2


async def test_a_completed_case_is_not_withdrawn_through_either_channel(tmp_path):
    """Approved (已办结) at the department: withdrawing it is a separate legal procedure, whichever channel asks."""
    for code in ("amr", "hpf", "bank"):  # a portal department's API, and an API department's portal
        app, db = make(code, tmp_path / code)
        aid = app_id()
        async with client_for(app) as c:
            ticket = (await post(c, json_body(code, aid))).json()["ticket"]
            assert (await c.get(f"/api/v1/submissions/{ticket}", headers=AUTH)).json()["status"] == "completed"
            r = await c.post(f"/api/v1/submissions/{ticket}/withdrawal", json={"reason": "申请人撤回"}, headers=AUTH)
            assert (r.status_code, r.json()["error"]) == (409, "already_completed"), code
            assert "已办结" in r.json()["reason"]
            await log_in(c)
            page = await c.post(f"/cases/{ticket}/withdrawal", data={"reason": "申请人撤回"})
            assert page.status_code == 409 and "已办结" in page.text, code
            answer = (await c.get(f"/api/v1/submissions/{ticket}", headers=AUTH)).json()
            assert answer["status"] == "completed" and answer["withdrawn_at"] is None, code
        assert count(code, db, aid) == 1


async def test_the_other_channel_calls_back_signed(tmp_path):
    got: list[tuple[dict, dict]] = []
    sink = FastAPI()

    @sink.post("/cb")
    async def cb(request: Request) -> dict:
        got.append((dict(request.headers), json.loads(await request.body())))
        return {}

    async with serve_app(sink) as sink_url:
        app, _db = make("hrss", tmp_path, process_delay_s=0.2)
        async with client_for(app) as c:
            b = registration_body("hrss", app_id(), callback_url=f"{sink_url}/cb")
            ticket = (await post(c, b)).json()["ticket"]
            for _ in range(100):
                if got:
                    break
                await asyncio.sleep(0.05)
    headers, payload = got[0]
    assert payload["ticket"] == ticket and payload["status"] == "completed" and payload["result"]["si_unit_code"]
    raw = json.dumps(payload, ensure_ascii=False).encode()
    expected = hmac.new(b"hrss-callback-dev-secret", f"{headers['x-kaiban-timestamp']}.".encode() + raw, hashlib.sha256)
    assert headers["x-kaiban-signature"] == f"sha256={expected.hexdigest()}"
    assert headers["x-department"] == "hrss"


async def test_api_department_portal_shows_the_api_result_and_misbehaves_like_the_others(tmp_path):
    app, _db = make("tax", tmp_path, captcha="arithmetic")
    aid = app_id()
    async with client_for(app) as c:
        ticket = (await post(c, api_body("tax", aid, uscc=GIVEN_USCC))).json()["ticket"]
        login = (await c.get("/login")).text
        assert "验证码" in login  # the portal's captcha; the API is not behind it
        await c.put("/_admin/behaviour", json={"captcha": None})
        await log_in(c)
        shown = records((await c.get("/progress", params={"external_ref": aid})).text)[0]
        admin = (await c.get("/_admin/submissions", params={"application_id": aid})).json()
    assert shown["receipt_no"] == ticket and shown["taxpayer_id"] == GIVEN_USCC
    assert shown["invoice_type"] == {"数电普通发票": "已核定"} and shown["status"] == "已办结"
    assert [s["ticket"] for s in admin] == [ticket]  # /_admin is the department's (its API's store)


async def test_make_run_serves_both_channels_of_every_department_on_its_old_port(tmp_path):
    from simulators.serve import build_apps

    apps = build_apps(tmp_path, 0.0, 0.0, "127.0.0.1")
    assert {code: port for code, port, _ in apps} == {
        "amr": 8101,
        "psb_seal": 8102,
        "hrss": 8103,
        "hpf": 8104,
        "tax": 8201,
        "nhsa": 8202,
        "bank": 8203,
    }
    for code, _port, app in apps:
        async with client_for(app) as c:
            assert (await c.get("/login")).status_code == 200, code
            assert (await c.get("/api/v1/submissions")).status_code == 401, code
            ok = await c.get("/api/v1/submissions", headers={"Authorization": f"Bearer {code}-dev-secret"})
            assert ok.status_code == 200 and ok.json() == [], code
