"""The department API simulators (tax, nhsa, bank) behave like a real asynchronous API."""

from __future__ import annotations

import asyncio
import hmac
import time
import uuid

import httpx
import pytest
from fastapi import FastAPI, Request
from stdnum.cn import uscc as stdnum_uscc

from simulators.department_api import (
    count_live_submissions,
    count_submissions,
    create_department_api_app,
    list_submissions,
    tax_authority_for,
)
from simulators.department_api.routes import APPROVED_REFUSAL
from tests.support.servers import serve_app

TOKEN = "sim-token-123"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
BASE17 = "91140121MA0KQ7WX5"
USCC = BASE17 + stdnum_uscc.calc_check_digit(BASE17)
BAD_USCC = USCC[:-1] + ("0" if USCC[-1] != "0" else "1")


def app_id() -> str:
    return "APP-" + uuid.uuid4().hex[:12].upper()


def person(name: str = "王晓明") -> dict:
    return {"name": name, "id_number": "140121198704150213", "mobile": "13835100421"}


def body(code: str, application_id: str, **over) -> dict:
    common = {
        "application_id": application_id,
        "uscc": USCC,
        "company_name": "太原晋创云数据科技有限公司",
        "division_code": "140121",
        "address": "太原市清徐县清源镇文源路 18 号",
        "legal_representative": person(),
    }
    if code == "tax":
        b = {
            **common,
            "financial_officer": person("张伟"),
            "tax_officer": person("赵敏"),
            "invoice_types": ["digital_general"],
            "expected_monthly_invoice_amount_wan_yuan": "50",
        }
    elif code == "nhsa":
        b = {**common, "liaison": person("赵敏"), "employees_expected": 12}
    else:
        b = {
            **common,
            "account_type": "basic",
            "bank_code": "ICBC",
            "branch_name": "中国工商银行太原清徐支行",
            "financial_officer": person("张伟"),
            "seal_codes": {"official": "1401210000001", "financial": "1401210000002"},
            "requested_seal_types": ["official", "financial"],
        }
    b.update(over)
    return b


def client_for(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sim")


async def post(c: httpx.AsyncClient, b: dict, headers: dict | None = None) -> httpx.Response:
    h = {**AUTH, "Idempotency-Key": b["application_id"]}
    h.update(headers or {})
    return await c.post("/api/v1/submissions", json=b, headers=h)


def test_unknown_department_is_refused(tmp_path):
    with pytest.raises(ValueError, match="amr"):
        create_department_api_app("amr", db_path=tmp_path / "x.db", token=TOKEN)


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}],
    ids=["missing", "wrong-token", "wrong-scheme"],
)
async def test_api_requires_the_bearer_token(tmp_path, headers):
    db = tmp_path / "tax.db"
    app = create_department_api_app("tax", db_path=db, token=TOKEN)
    aid = app_id()
    async with client_for(app) as c:
        r = await c.post("/api/v1/submissions", json=body("tax", aid), headers=headers)
        assert r.status_code == 401
        assert r.json()["error"] == "unauthorized"
        assert (await c.get("/api/v1/submissions", params={"application_id": aid}, headers=headers)).status_code == 401
        assert (await c.get("/api/v1/submissions/TAX-1", headers=headers)).status_code == 401
    assert count_submissions(db, aid) == 0


@pytest.mark.parametrize("code", ["tax", "nhsa", "bank"])
async def test_same_application_twice_is_one_submission(tmp_path, code):
    db = tmp_path / f"{code}.db"
    app = create_department_api_app(code, db_path=db, token=TOKEN)
    aid = app_id()
    async with client_for(app) as c:
        first = await post(c, body(code, aid))
        assert first.status_code == 202, first.text
        assert first.json()["status"] == "accepted"
        assert first.json()["application_id"] == aid
        second = await post(c, body(code, aid))
        assert second.status_code == 200
        assert second.json()["ticket"] == first.json()["ticket"]
        listed = (await c.get("/api/v1/submissions", params={"application_id": aid}, headers=AUTH)).json()
        other = await post(c, body(code, app_id()))
        assert other.status_code == 202
        assert other.json()["ticket"] != first.json()["ticket"]
    assert count_submissions(db, aid) == 1
    assert [s["ticket"] for s in listed] == [first.json()["ticket"]]
    assert len(list_submissions(db)) == 2


async def test_concurrent_duplicates_store_one_submission(tmp_path):
    db = tmp_path / "nhsa.db"
    app = create_department_api_app("nhsa", db_path=db, token=TOKEN)
    aid = app_id()
    async with client_for(app) as c:
        responses = await asyncio.gather(*(post(c, body("nhsa", aid)) for _ in range(8)))
    assert sorted(r.status_code for r in responses) == [200] * 7 + [202]
    assert len({r.json()["ticket"] for r in responses}) == 1
    assert count_submissions(db, aid) == 1


async def test_idempotency_key_must_match_application_id(tmp_path):
    db = tmp_path / "tax.db"
    app = create_department_api_app("tax", db_path=db, token=TOKEN)
    aid = app_id()
    async with client_for(app) as c:
        r = await post(c, body("tax", aid), headers={"Idempotency-Key": "OTHER-123456"})
    assert r.status_code == 422
    assert "Idempotency-Key" in r.json()["reason"]
    assert count_submissions(db, aid) == 0


@pytest.mark.parametrize("code", ["tax", "nhsa", "bank"])
async def test_invalid_uscc_check_character_is_422(tmp_path, code):
    db = tmp_path / f"{code}.db"
    app = create_department_api_app(code, db_path=db, token=TOKEN)
    aid = app_id()
    assert not stdnum_uscc.is_valid(BAD_USCC)
    async with client_for(app) as c:
        r = await post(c, body(code, aid, uscc=BAD_USCC))
    assert r.status_code == 422
    assert r.json()["error"] == "validation_failed"
    assert r.json()["reason"].startswith("uscc:")
    assert "GB 32100" in r.json()["reason"]
    assert count_submissions(db, aid) == 0


async def test_schema_errors_are_422_with_the_field(tmp_path):
    app = create_department_api_app("tax", db_path=tmp_path / "tax.db", token=TOKEN)
    async with client_for(app) as c:
        b = body("tax", app_id(), invoice_types=["paper_special"])
        r = await post(c, b)
        assert r.status_code == 422
        assert "invoice_types" in r.json()["reason"]
        r = await c.post(
            "/api/v1/submissions", content=b"{not json", headers={**AUTH, "Content-Type": "application/json"}
        )
        assert r.status_code == 422
        assert "JSON" in r.json()["reason"]


@pytest.mark.parametrize(
    "over, needle",
    [
        ({"seal_codes": {}}, "seal"),
        ({"seal_codes": {"official": "  "}}, "seal"),
        ({"seal_codes": {"official": "1401210000001"}}, "financial"),
    ],
    ids=["no-seal-codes", "blank-seal-code", "financial-seal-missing"],
)
async def test_bank_needs_the_seal_codes(tmp_path, over, needle):
    db = tmp_path / "bank.db"
    app = create_department_api_app("bank", db_path=db, token=TOKEN)
    aid = app_id()
    async with client_for(app) as c:
        r = await post(c, body("bank", aid, **over))
    assert r.status_code == 422
    assert needle in r.json()["reason"]
    assert count_submissions(db, aid) == 0


async def test_bank_without_financial_seal_request_needs_only_one_code(tmp_path):
    app = create_department_api_app("bank", db_path=tmp_path / "bank.db", token=TOKEN)
    async with client_for(app) as c:
        r = await post(
            c, body("bank", app_id(), seal_codes={"official": "1401210000001"}, requested_seal_types=["official"])
        )
    assert r.status_code == 202


async def test_processing_then_completed_after_the_delay(tmp_path):
    delay = 0.3
    app = create_department_api_app("tax", db_path=tmp_path / "tax.db", token=TOKEN, process_delay_s=delay)
    aid = app_id()
    async with client_for(app) as c:
        started = time.monotonic()
        ticket = (await post(c, body("tax", aid, invoice_types=["digital_general", "digital_special"]))).json()[
            "ticket"
        ]
        first = (await c.get(f"/api/v1/submissions/{ticket}", headers=AUTH)).json()
        assert first["status"] == "processing"
        assert first["result"] is None and first["reason"] is None
        while True:
            state = (await c.get(f"/api/v1/submissions/{ticket}", headers=AUTH)).json()
            if state["status"] != "processing":
                break
            assert time.monotonic() - started < 5, "never completed"
            await asyncio.sleep(0.05)
        elapsed = time.monotonic() - started
    assert elapsed >= delay - 0.05
    assert state["status"] == "completed"
    assert state["ticket"] == ticket and state["application_id"] == aid
    assert state["received_at"].endswith("+08:00")
    assert state["result"] == {
        "taxpayer_id": USCC,
        "tax_authority": "国家税务总局太原市清徐县税务局",
        "invoice_types": ["digital_general", "digital_special"],
    }


async def test_zero_delay_completes_at_once_with_department_results(tmp_path):
    results = {}
    for code in ("nhsa", "bank"):
        app = create_department_api_app(code, db_path=tmp_path / f"{code}.db", token=TOKEN)
        async with client_for(app) as c:
            ticket = (await post(c, body(code, app_id()))).json()["ticket"]
            state = (await c.get(f"/api/v1/submissions/{ticket}", headers=AUTH)).json()
        assert state["status"] == "completed"
        results[code] = state["result"]
    assert results["nhsa"]["mi_unit_code"].startswith("140121")
    assert len(results["nhsa"]["mi_unit_code"]) == 14
    assert results["bank"]["bank_code"] == "ICBC"
    assert results["bank"]["account_no"].isdigit() and len(results["bank"]["account_no"]) == 19
    assert results["bank"]["opened_at"].endswith("+08:00")


def test_tax_authority_falls_back_by_division_level():
    assert tax_authority_for("140121") == "国家税务总局太原市清徐县税务局"
    assert tax_authority_for("140199") == "国家税务总局太原市税务局"
    assert tax_authority_for("149999") == "国家税务总局山西省税务局"


async def test_unknown_ticket_is_404(tmp_path):
    app = create_department_api_app("nhsa", db_path=tmp_path / "nhsa.db", token=TOKEN)
    async with client_for(app) as c:
        r = await c.get("/api/v1/submissions/NHSA-20260101-NOPE", headers=AUTH)
    assert r.status_code == 404
    assert r.json()["error"] == "not_found"
    assert "NHSA-20260101-NOPE" in r.json()["reason"]


async def test_ticket_of_another_department_is_unknown(tmp_path):
    db = tmp_path / "shared.db"
    tax = create_department_api_app("tax", db_path=db, token=TOKEN)
    nhsa = create_department_api_app("nhsa", db_path=db, token=TOKEN)
    async with client_for(tax) as t, client_for(nhsa) as n:
        ticket = (await post(t, body("tax", app_id()))).json()["ticket"]
        assert (await n.get(f"/api/v1/submissions/{ticket}", headers=AUTH)).status_code == 404


async def test_rare_characters_round_trip(tmp_path):
    db = tmp_path / "nhsa.db"
    app = create_department_api_app("nhsa", db_path=db, token=TOKEN)
    aid = app_id()
    name = "太原𬱖䶮科技有限公司"
    rep = "王𬱖"
    async with client_for(app) as c:
        r = await post(c, body("nhsa", aid, company_name=name, legal_representative=person(rep)))
        assert r.status_code == 202
        admin = (await c.get("/_admin/submissions", params={"application_id": aid})).json()
    assert len(admin) == 1
    assert admin[0]["payload"]["company_name"] == name
    assert admin[0]["payload"]["legal_representative"]["name"] == rep
    stored = [s for s in list_submissions(db) if s["application_id"] == aid]
    assert stored[0]["payload"]["company_name"].encode("utf-8") == name.encode("utf-8")
    assert any(ord(ch) > 0xFFFF for ch in stored[0]["payload"]["company_name"])


async def test_admin_reject_then_correction_gets_a_new_ticket(tmp_path):
    db = tmp_path / "tax.db"
    app = create_department_api_app("tax", db_path=db, token=TOKEN, process_delay_s=30)
    aid = app_id()
    async with client_for(app) as c:
        ticket = (await post(c, body("tax", aid))).json()["ticket"]
        r = await c.post(f"/_admin/submissions/{ticket}/reject", json={"reason": "经营范围需补正"})
        assert r.status_code == 200
        state = (await c.get(f"/api/v1/submissions/{ticket}", headers=AUTH)).json()
        assert state["status"] == "rejected"
        assert state["reason"] == "经营范围需补正"
        assert state["result"] is None
        again = await c.post(f"/_admin/submissions/{ticket}/reject", json={"reason": "x"})
        assert again.status_code == 409
        corrected = await post(c, body("tax", aid))
        assert corrected.status_code == 202
        assert corrected.json()["ticket"] != ticket
    assert count_submissions(db, aid) == 2


async def test_callback_url_is_stored_and_called(tmp_path):
    received: list[dict] = []
    got = asyncio.Event()
    sink = FastAPI()

    @sink.post("/cb")
    async def cb(request: Request) -> dict:
        received.append(
            {
                "json": await request.json(),
                "raw": await request.body(),
                "dept": request.headers.get("x-department"),
                "ts": request.headers.get("x-kaiban-timestamp"),
                "sig": request.headers.get("x-kaiban-signature"),
                "auth": request.headers.get("authorization"),
            }
        )
        got.set()
        return {"ok": True}

    db = tmp_path / "bank.db"
    app = create_department_api_app("bank", db_path=db, token=TOKEN, process_delay_s=0.1)
    aid = app_id()
    async with serve_app(sink) as sink_url, serve_app(app) as sim_url:
        async with httpx.AsyncClient(base_url=sim_url) as c:
            ticket = (await post(c, body("bank", aid, callback_url=f"{sink_url}/cb"))).json()["ticket"]
        await asyncio.wait_for(got.wait(), timeout=5)
    assert list_submissions(db)[0]["callback_url"] == f"{sink_url}/cb"
    assert received[0]["dept"] == "bank"
    assert received[0]["json"]["ticket"] == ticket
    assert received[0]["json"]["status"] == "completed"
    assert received[0]["json"]["result"]["bank_code"] == "ICBC"
    # signed under the callback secret (not the account password, which is not sent at all)
    assert received[0]["auth"] is None
    expected = hmac.new(b"bank-callback-dev-secret", f"{received[0]['ts']}.".encode() + received[0]["raw"], "sha256")
    assert received[0]["sig"] == f"sha256={expected.hexdigest()}"
    assert abs(int(received[0]["ts"]) - time.time()) < 60


# --- rejection rules and withdrawals --------------------------------------------------------------


async def test_a_department_rejects_what_it_is_told_to_until_the_rule_is_deleted(tmp_path):
    db = tmp_path / "tax.db"
    told, later, bystander = app_id(), app_id(), app_id()
    app = create_department_api_app(
        "tax", db_path=db, token=TOKEN, process_delay_s=0.3, reject_application_ids={told: "税务登记信息需补正"}
    )
    async with client_for(app) as c:

        async def state(ticket: str) -> dict:
            return (await c.get(f"/api/v1/submissions/{ticket}", headers=AUTH)).json()

        first = (await post(c, body("tax", told))).json()["ticket"]
        assert (await state(first))["status"] == "processing"  # decided when processing ends
        second = (await post(c, body("tax", later))).json()["ticket"]
        r = await c.post("/_admin/rejections", json={"application_id": later, "reason": "经营地址需核实"})
        assert r.status_code == 200 and r.json()["processing_marked"] == 1
        third = (await post(c, body("tax", bystander))).json()["ticket"]
        assert (await c.get("/_admin/rejections")).json() == {told: "税务登记信息需补正", later: "经营地址需核实"}
        assert (await c.post("/_admin/rejections", json={"reason": "x"})).status_code == 422
        await asyncio.sleep(0.35)
        states = [await state(t) for t in (first, second, third)]
        assert [(s["status"], s["reason"]) for s in states] == [
            ("rejected", "税务登记信息需补正"),
            ("rejected", "经营地址需核实"),
            ("completed", None),
        ]
        assert states[0]["result"] is None
        # a completed submission is not undone by a later rule
        await c.post("/_admin/rejections", json={"application_id": bystander, "reason": "迟到的规则"})
        assert (await state(third))["status"] == "completed"

        # the rule stands: a re-submission is a new ticket, rejected as well (also once the rule is gone)
        during = await post(c, body("tax", told))
        assert during.status_code == 202 and during.json()["ticket"] != first
        assert (await post(c, body("tax", told))).json()["ticket"] == during.json()["ticket"]  # still one live
        assert (await c.delete(f"/_admin/rejections/{told}")).json() == {"application_id": told, "removed": True}
        await asyncio.sleep(0.35)
        assert (await state(during.json()["ticket"]))["status"] == "rejected"
        corrected = await post(c, body("tax", told))
        assert corrected.status_code == 202
        await asyncio.sleep(0.35)
        assert (await state(corrected.json()["ticket"]))["status"] == "completed"
    assert count_submissions(db, told) == 3
    assert count_live_submissions(db, told) == 1
    assert count_live_submissions(db, bystander) == 1 and count_live_submissions(db, later) == 0


async def test_a_rule_rejection_is_called_back(tmp_path):
    received: list[dict] = []
    got = asyncio.Event()
    sink = FastAPI()

    @sink.post("/cb")
    async def cb(request: Request) -> dict:
        received.append(await request.json())
        got.set()
        return {"ok": True}

    aid = app_id()
    app = create_department_api_app(
        "nhsa",
        db_path=tmp_path / "nhsa.db",
        token=TOKEN,
        process_delay_s=0.1,
        reject_application_ids={aid: "参保信息需补正"},
    )
    async with serve_app(sink) as sink_url, serve_app(app) as sim_url:
        async with httpx.AsyncClient(base_url=sim_url) as c:
            await post(c, body("nhsa", aid, callback_url=f"{sink_url}/cb"))
        await asyncio.wait_for(got.wait(), timeout=5)
    assert (received[0]["status"], received[0]["reason"]) == ("rejected", "参保信息需补正")


async def test_withdrawal_is_idempotent(tmp_path):
    db = tmp_path / "bank.db"
    app = create_department_api_app("bank", db_path=db, token=TOKEN, process_delay_s=30)
    aid = app_id()
    async with client_for(app) as c:
        ticket = (await post(c, body("bank", aid))).json()["ticket"]
        url = f"/api/v1/submissions/{ticket}/withdrawal"
        assert (await c.post(url, json={"reason": "申请人撤回申请"})).status_code == 401
        assert (await c.post(url, json={}, headers=AUTH)).status_code == 422
        first = await c.post(url, json={"reason": "申请人撤回申请"}, headers=AUTH)
        assert first.status_code == 200
        assert (first.json()["status"], first.json()["reason"]) == ("withdrawn", "申请人撤回申请")
        assert first.json()["withdrawn_at"].endswith("+08:00") and first.json()["result"] is None
        again = await c.post(url, json={"reason": "又撤回一次"}, headers=AUTH)
        assert again.status_code == 200 and again.json() == first.json()  # the first withdrawal stands
        assert (await c.get(f"/api/v1/submissions/{ticket}", headers=AUTH)).json()["status"] == "withdrawn"
        assert (await c.post(f"/_admin/submissions/{ticket}/reject", json={})).status_code == 409
        r = await c.post("/api/v1/submissions/BANK-20260101-NOPE/withdrawal", json={"reason": "x"}, headers=AUTH)
        assert r.status_code == 404
        assert count_live_submissions(db, aid) == 0
        # a submission after the withdrawal is a new live one
        renewed = await post(c, body("bank", aid))
        assert renewed.status_code == 202 and renewed.json()["ticket"] != ticket
    assert count_submissions(db, aid) == 2 and count_live_submissions(db, aid) == 1


async def test_a_completed_submission_is_not_withdrawn(tmp_path):
    db = tmp_path / "nhsa.db"
    app = create_department_api_app("nhsa", db_path=db, token=TOKEN)
    aid = app_id()
    async with client_for(app) as c:
        ticket = (await post(c, body("nhsa", aid))).json()["ticket"]
        assert (await c.get(f"/api/v1/submissions/{ticket}", headers=AUTH)).json()["status"] == "completed"
        assert count_live_submissions(db, aid) == 1
        r = await c.post(
            f"/api/v1/submissions/{ticket}/withdrawal", json={"reason": "企业开办申请已撤回"}, headers=AUTH
        )
        # approved: withdrawing it is a separate legal procedure; the submission stays completed
        assert r.status_code == 409 and r.json() == {"error": "already_completed", "reason": APPROVED_REFUSAL}
        after = (await c.get(f"/api/v1/submissions/{ticket}", headers=AUTH)).json()
        assert after["status"] == "completed" and after["result"] and after["withdrawn_at"] is None
    assert count_live_submissions(db, aid) == 1


async def test_an_older_database_gets_the_new_columns_and_live_index(tmp_path):
    import sqlite3

    db = tmp_path / "tax.db"
    with sqlite3.connect(db) as conn:  # the schema of the first release
        conn.executescript(
            "CREATE TABLE submissions (ticket TEXT PRIMARY KEY, department TEXT NOT NULL,"
            " application_id TEXT NOT NULL, uscc TEXT NOT NULL, payload TEXT NOT NULL, result TEXT NOT NULL,"
            " callback_url TEXT, received_at TEXT NOT NULL, received_ts REAL NOT NULL, ready_ts REAL NOT NULL,"
            " rejected_reason TEXT, rejected_ts REAL);"
            "CREATE UNIQUE INDEX ux_submissions_live ON submissions(department, application_id)"
            " WHERE rejected_reason IS NULL;"
        )
    app = create_department_api_app("tax", db_path=db, token=TOKEN, process_delay_s=30)
    aid = app_id()
    async with client_for(app) as c:
        ticket = (await post(c, body("tax", aid))).json()["ticket"]
        await c.post(f"/api/v1/submissions/{ticket}/withdrawal", json={"reason": "撤回"}, headers=AUTH)
        assert (await post(c, body("tax", aid))).status_code == 202  # the old index would refuse it
    assert count_live_submissions(db, aid) == 1
