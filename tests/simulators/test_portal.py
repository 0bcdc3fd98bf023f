"""HTTP-level tests of the legacy portal simulators (httpx through ASGI, no browser)."""

from __future__ import annotations

import asyncio
import hashlib
import html
import re
import sqlite3
import time
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from stdnum.cn import uscc as uscc_std

from simulators import portal
from simulators.portal import (
    count_live_submissions,
    count_submissions,
    create_portal_app,
    issue_uscc,
    list_submissions,
)
from simulators.portal.behaviour import RECEIPT_IN_PATH
from simulators.portal.cases import APPROVED_REFUSAL
from simulators.portal.issuers import org_code_check

USER, PASSWORD = "clerk-robot", "pw-Ω-秘密"
CODES = ("amr", "psb_seal", "hrss", "hpf")
GIVEN_USCC = issue_uscc("140121", 20260001)  # a valid upstream USCC for the non-amr portals
RARE_NAME = "太原𬱖䶮数据科技有限公司"
RARE_PERSON = "王𬱖䶮"


def form_steps(
    code: str,
    application_id: str,
    *,
    company: str = "太原晋创云数据科技有限公司",
    person: str = "王晓明",
    uscc: str = GIVEN_USCC,
) -> list[dict]:
    """Valid answers for every wizard step of a portal (field names as the portal's HTML has them)."""
    if code == "amr":
        return [
            {
                "external_ref": application_id,
                "company_name": company,
                "entity_type": "1100",
                "registered_capital": "100",
                "division_code": "140121",
                "address_detail": "太原市清徐县清源镇文源路 18 号",
                "business_scope": "软件开发；数据处理服务",
                "operating_term_years": "",
                "shareholder_count": "2",
            },
            {
                "legal_rep_name": person,
                "legal_rep_id_number": "140121198704150213",
                "legal_rep_mobile": "13835100421",
                "legal_rep_role": "01",
                "supervisor_name": "李娜",
                "supervisor_id_number": "140122199007280443",
                "supervisor_mobile": "13903510288",
                "financial_officer_name": "张伟",
                "financial_officer_id_number": "140123197811050152",
                "financial_officer_mobile": "13700350917",
                "liaison_name": "赵敏",
                "liaison_id_number": "140100199212010268",
                "liaison_mobile": "15135106633",
            },
            {
                "shareholders-1-kind": "natural_person",
                "shareholders-1-name": person,
                "shareholders-1-id_number": "140121198704150213",
                "shareholders-1-contribution": "60",
                "shareholders-1-method": "1",
                "shareholders-1-deadline": "2031-06-30",
                "shareholders-2-kind": "legal_person",
                "shareholders-2-name": "山西汾水投资有限公司",
                "shareholders-2-id_number": "91140100MA0KQ7WX5W",
                "shareholders-2-contribution": "40",
                "shareholders-2-method": "1",
                "shareholders-2-deadline": "2030-12-31",
            },
        ]
    unit = {  # the first answers of psb_seal and hrss
        "external_ref": application_id,
        "uscc": uscc,
        "company_name": company,
        "legal_rep_name": person,
        "legal_rep_id_number": "140121198704150213",
    }
    if code == "psb_seal":
        return [
            unit,
            {"seal_types": ["GZ", "CWZ", "FPZ"], "liaison_name": "赵敏", "liaison_mobile": "15135106633"},
        ]
    if code == "hrss":
        return [
            {**unit, "address": "太原市清徐县清源镇文源路 18 号", "employee_count": "2"},
            {
                "employees-1-name": "刘洋",
                "employees-1-id_number": "140121199506160714",
                "employees-2-name": person,
                "employees-2-id_number": "140122198802030828",
            },
        ]
    if code == "hpf":
        return [
            {"external_ref": application_id, "uscc": uscc, "company_name": company, "employee_count": "12"},
            {
                "contribution_rate": "12",
                "liaison_name": person,
                "liaison_id_number": "140100199212010268",
                "liaison_mobile": "15135106633",
            },
        ]
    raise AssertionError(code)


def make_app(code: str, tmp_path: Path, **kw) -> tuple[object, Path]:
    db = tmp_path / f"{code}.sqlite3"
    return create_portal_app(code, db_path=db, username=USER, password=PASSWORD, **kw), db


def client_for(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


async def log_in(client: httpx.AsyncClient) -> None:
    r = await client.post("/login", data={"username": USER, "password": PASSWORD, "next": "/"})
    assert r.status_code == 303 and r.headers["location"] == "/"


async def submit_all(client: httpx.AsyncClient, steps: list[dict]) -> str:
    """Walk the wizard; returns the receipt number shown on the receipt page."""
    r = await client.get("/apply")
    assert r.headers["location"] == "/apply/step/1"
    for n, data in enumerate(steps, 1):
        r = await client.post(f"/apply/step/{n}", data=data)
        assert r.status_code == 303, alerts(r.text)
    if r.headers["location"] == "/apply/attachments":  # the portal asks for the materials (none here)
        r = await client.post("/apply/attachments", files={"attachments": ("", b"")})
        assert r.status_code == 303, alerts(r.text)
    assert r.headers["location"] == "/apply/confirm"
    r = await client.get("/apply/confirm")
    assert "确认提交" in r.text
    r = await client.post("/apply/submit")
    assert r.status_code == 303
    page = (await client.get(r.headers["location"])).text
    return fields(page)["receipt_no"]


def alerts(page: str) -> list[str]:
    box = re.search(r'role="alert">(.*?)</div>', page, re.S)
    return [html.unescape(m) for m in re.findall(r"<li>(.*?)</li>", box.group(1), re.S)] if box else []


def fields(page: str) -> dict:
    out: dict = {}
    for name, key, text in re.findall(r'<dd data-field="([^"]+)"(?: data-key="([^"]*)")?>([^<]*)</dd>', page):
        if key:
            out.setdefault(name, {})[html.unescape(key)] = html.unescape(text)
        else:
            out[name] = html.unescape(text)
    return out


def records(page: str) -> list[dict]:
    return [fields(chunk) for chunk in re.findall(r"<article[^>]*data-record.*?</article>", page, re.S)]


# ---------------------------------------------------------------------------


def test_unknown_department_is_refused(tmp_path):
    with pytest.raises(ValueError, match="tax"):
        create_portal_app("tax", db_path=tmp_path / "x.db", username=USER, password=PASSWORD)


@pytest.mark.parametrize("code", CODES)
async def test_every_page_but_login_requires_a_session(code, tmp_path):
    app, db = make_app(code, tmp_path)
    async with client_for(app) as c:
        for path in ("/", "/apply", "/apply/step/1", "/apply/confirm", "/progress?external_ref=APP-000001"):
            r = await c.get(path)
            assert r.status_code == 303
            assert r.headers["location"].startswith("/login?next=")
        r = await c.post("/apply/submit")
        assert r.status_code == 303 and r.headers["location"].startswith("/login")
        assert count_submissions(db, "APP-000001") == 0
        # the login page: labelled fields, the way back to where we wanted to go
        page = (await c.get("/login?next=/progress")).text
        assert '<label for="username">用户名</label>' in page
        assert '<label for="password">密码</label>' in page
        assert 'name="next" value="/progress"' in page
        r = await c.post("/login", data={"username": USER, "password": PASSWORD, "next": "/progress"})
        assert r.headers["location"] == "/progress"
        assert (await c.get("/progress")).status_code == 200


async def test_wrong_password_is_refused_and_sessions_are_random(tmp_path):
    app, _ = make_app("hpf", tmp_path)
    async with client_for(app) as c:
        r = await c.post("/login", data={"username": USER, "password": "wrong"})
        assert r.status_code == 200
        assert alerts(r.text) == ["用户名或密码错误"]
        assert "PORTALSESSID" not in r.cookies
        r = await c.post("/login", data={"username": "", "password": ""})
        assert set(alerts(r.text)) == {"请输入用户名", "请输入密码"}
    tokens = set()
    for _ in range(2):
        async with client_for(app) as c:
            r = await c.post("/login", data={"username": USER, "password": PASSWORD})
            tokens.add(r.cookies["PORTALSESSID"])
    assert len(tokens) == 2 and all(len(t) >= 32 for t in tokens)


async def test_required_fields_are_reported_in_red_next_to_each_field(tmp_path):
    app, db = make_app("amr", tmp_path)
    async with client_for(app) as c:
        await log_in(c)
        await c.get("/apply")
        r = await c.post("/apply/step/1", data={"company_name": "太原𬱖科技有限公司"})
        assert r.status_code == 200
        msgs = alerts(r.text)
        assert "外部业务编号不能为空" in msgs and "请选择企业类型" in msgs and "注册资本（万元）不能为空" in msgs
        assert "企业名称不能为空" not in msgs
        assert '<p class="error" id="external_ref-error">外部业务编号不能为空</p>' in r.text
        assert re.search(r"\.error[^{]*\{[^}]*color:\s*#c00", r.text), "errors must be styled red"
        assert 'value="太原𬱖科技有限公司"' in r.text  # what was typed stays in the form
        # optional field left empty is fine; a wrong one is not
        assert not any("营业期限" in m for m in msgs)
        # the wizard does not let one skip a step
        r = await c.get("/apply/step/3")
        assert r.headers["location"] == "/apply/step/1"
    assert list_submissions(db) == []


@pytest.mark.parametrize("code", ("psb_seal", "hrss", "hpf"))
async def test_uscc_check_character_is_verified(code, tmp_path):
    app, db = make_app(code, tmp_path)
    bad = GIVEN_USCC[:-1] + ("0" if GIVEN_USCC[-1] != "0" else "1")
    assert not uscc_std.is_valid(bad)
    async with client_for(app) as c:
        await log_in(c)
        await c.get("/apply")
        step1 = form_steps(code, "APP-USCC-01", uscc=bad)[0]
        r = await c.post("/apply/step/1", data=step1)
        assert r.status_code == 200
        assert alerts(r.text) == ["统一社会信用代码格式或校验位不正确"]
        r = await c.post("/apply/step/1", data={**step1, "uscc": GIVEN_USCC})
        assert r.status_code == 303 and r.headers["location"] == "/apply/step/2"


async def test_amr_checks_people_and_capital(tmp_path):
    app, db = make_app("amr", tmp_path)
    steps = form_steps("amr", "APP-AMR-0001")
    async with client_for(app) as c:
        await log_in(c)
        await c.get("/apply")
        assert (await c.post("/apply/step/1", data=steps[0])).status_code == 303
        people = {**steps[1], "legal_rep_mobile": "12345", "supervisor_id_number": steps[1]["legal_rep_id_number"]}
        r = await c.post("/apply/step/2", data=people)
        assert alerts(r.text) == ["法定代表人手机号码应为11位手机号码"]
        r = await c.post("/apply/step/2", data={**people, "legal_rep_mobile": "13835100421"})
        assert alerts(r.text) == ["监事不得由法定代表人（执行董事）或财务负责人兼任"]
        assert (await c.post("/apply/step/2", data=steps[1])).status_code == 303
        # step 3 has one labelled row per shareholder announced in step 1
        page = (await c.get("/apply/step/3")).text
        assert '<label for="shareholders-2-name">股东2名称</label>' in page
        assert "股东3" not in page
        r = await c.post("/apply/step/3", data={**steps[2], "shareholders-2-contribution": "30"})
        assert alerts(r.text) == ["股东认缴出资额合计（90万元）与注册资本（100万元）不一致"]
        r = await c.post("/apply/step/3", data={**steps[2], "shareholders-2-id_number": "91140100MA0KQ7WX5X"})
        assert alerts(r.text) == ["股东2统一社会信用代码格式或校验位不正确"]
        # then the materials (上传申请材料), before the confirmation
        assert (await c.post("/apply/step/3", data=steps[2])).headers["location"] == "/apply/attachments"
    assert count_submissions(db, "APP-AMR-0001") == 0


async def test_amr_asks_for_the_materials_and_keeps_what_it_received(tmp_path):
    app, db = make_app("amr", tmp_path)
    steps = form_steps("amr", "APP-AMR-0002")
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
    async with client_for(app) as c:
        await log_in(c)
        await c.get("/apply")
        for n, data in enumerate(steps, 1):
            assert (await c.post(f"/apply/step/{n}", data=data)).status_code == 303
        r = await c.get("/apply/confirm")  # not before the materials
        assert r.status_code == 303 and r.headers["location"] == "/apply/attachments"
        page = (await c.get("/apply/attachments")).text
        assert '<label for="attachments">申请材料</label>' in page and 'type="file"' in page
        r = await c.post("/apply/attachments", files=[("attachments", ("章程.docx", b"PK\x03\x04 not a pdf"))])
        assert alerts(r.text) == ["材料「章程.docx」不是 PDF、JPEG 或 PNG 文件"]
        r = await c.post("/apply/attachments", files=[("attachments", ("身份证.png", png))])
        assert r.headers["location"] == "/apply/confirm"
        r = await c.post("/apply/submit")
        assert r.status_code == 303
    (stored,) = [s for s in portal.list_submissions(db) if s["application_id"] == "APP-AMR-0002"]
    assert stored["data"]["attachments"] == [
        {"name": "身份证.png", "sha256": hashlib.sha256(png).hexdigest(), "size": len(png), "content_type": "image/png"}
    ]


async def test_hpf_rate_must_be_between_5_and_12_percent(tmp_path):
    app, _ = make_app("hpf", tmp_path)
    steps = form_steps("hpf", "APP-HPF-0001")
    async with client_for(app) as c:
        await log_in(c)
        await c.get("/apply")
        await c.post("/apply/step/1", data=steps[0])
        r = await c.post("/apply/step/2", data={**steps[1], "contribution_rate": "20"})
        assert alerts(r.text) == ["单位缴存比例（%）应在5%至12%之间"]


async def test_every_control_has_its_label(tmp_path):
    """Each input/select/textarea of every step is named by a <label for=...> (robots depend on it)."""
    for code in CODES:
        app, _ = make_app(code, tmp_path / code)
        async with client_for(app) as c:
            await log_in(c)
            await c.get("/apply")
            steps = form_steps(code, "APP-LBL-0001")
            for n, data in enumerate(steps, 1):
                page = (await c.get(f"/apply/step/{n}")).text
                ids = set(re.findall(r'<(?:input|select|textarea)[^>]* id="([^"]+)"', page))
                fors = set(re.findall(r'<label for="([^"]+)"', page))
                assert ids, (code, n)
                assert ids <= fors, (code, n, ids - fors)
                await c.post(f"/apply/step/{n}", data=data)


@pytest.mark.parametrize("code", CODES)
async def test_receipt_then_progress_after_the_processing_delay(code, tmp_path):
    app, db = make_app(code, tmp_path, process_delay_s=0.4)
    async with client_for(app) as c:
        await log_in(c)
        receipt_no = await submit_all(c, form_steps(code, "APP-2026-PROG-1"))
        assert re.fullmatch(r"[A-Z]+\d{14}", receipt_no)

        by_id = records((await c.get("/progress", params={"external_ref": "APP-2026-PROG-1"})).text)
        by_receipt = records((await c.get("/progress", params={"receipt_no": receipt_no})).text)
        assert by_id == by_receipt and len(by_id) == 1
        rec = by_id[0]
        assert rec["status"] == "审核中"
        assert rec["receipt_no"] == receipt_no and rec["application_id"] == "APP-2026-PROG-1"
        assert datetime.fromisoformat(rec["submitted_at"]).utcoffset().total_seconds() == 8 * 3600
        result_field = {"amr": "uscc", "psb_seal": "seal_code", "hrss": "si_unit_code", "hpf": "hpf_unit_account"}[code]
        assert result_field not in rec  # nothing issued while in review
        empty = (await c.get("/progress", params={"external_ref": "APP-UNKNOWN-1"})).text
        assert records(empty) == [] and "未查询到相关办件" in empty

        await asyncio.sleep(0.45)
        rec = records((await c.get("/progress", params={"external_ref": "APP-2026-PROG-1"})).text)[0]
        assert rec["status"] == "已办结"
    stored = list_submissions(db)
    assert len(stored) == 1 and stored[0]["status"] == "completed"
    result = stored[0]["result"]
    if code == "amr":
        assert uscc_std.validate(rec["uscc"]) == rec["uscc"] == result["uscc"]
        assert rec["uscc"].startswith("91140121")
        assert org_code_check(rec["uscc"][8:16]) == rec["uscc"][16]  # GB 11714 organisation code
        assert rec["licence_serial"] == result["licence_serial"]
        approved = datetime.fromisoformat(rec["approved_at"])
        assert rec["approved_at"].endswith("+08:00") and approved >= datetime.fromisoformat(stored[0]["submitted_at"])
    elif code == "psb_seal":
        assert rec["uscc"] == GIVEN_USCC  # shows the USCC it was given
        assert rec["seal_code"].keys() == {"公章", "财务专用章", "发票专用章"}
        assert result["seal_codes"].keys() == {"GZ", "CWZ", "FPZ"}
        assert len(set(rec["seal_code"].values())) == 3
    elif code == "hrss":
        assert rec["uscc"] == GIVEN_USCC and rec["si_unit_code"] == result["si_unit_code"]
        assert [e["name"] for e in stored[0]["data"]["employees"]] == ["刘洋", "王晓明"]
    else:
        assert rec["uscc"] == GIVEN_USCC and rec["hpf_unit_account"] == result["hpf_unit_account"]
        assert stored[0]["data"]["contribution_rate"] == "12"


def test_issued_usccs_are_valid():
    for serial in (0, 1, 9_999_999, 12_345_678, 87_654_321):
        for division in ("140121", "110105", "440305"):
            code = issue_uscc(division, serial)
            assert uscc_std.validate(code) == code
            assert code[:8] == "91" + division
            assert org_code_check(code[8:16]) == code[16]
    # the organisation code check of a published example (GB 11714: D2143569-X)
    assert org_code_check("D2143569") == "X"


async def test_duplicates_are_stored_not_deduplicated(tmp_path):
    app, db = make_app("psb_seal", tmp_path)
    async with client_for(app) as c:
        await log_in(c)
        first = await submit_all(c, form_steps("psb_seal", "APP-DUP-0001"))
        second = await submit_all(c, form_steps("psb_seal", "APP-DUP-0001"))
        assert first != second
        page = (await c.get("/progress", params={"external_ref": "APP-DUP-0001"})).text
        assert [r["receipt_no"] for r in records(page)] == [first, second]
        admin = (await c.get("/_admin/submissions", params={"application_id": "APP-DUP-0001"})).json()
        assert [s["receipt_no"] for s in admin] == [first, second]
        assert (await c.get("/_admin/submissions", params={"application_id": "APP-OTHER-01"})).json() == []
    assert count_submissions(db, "APP-DUP-0001") == 2
    assert len(list_submissions(db)) == 2
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


@pytest.mark.parametrize("code", CODES)
async def test_rare_characters_round_trip(code, tmp_path):
    app, db = make_app(code, tmp_path)
    async with client_for(app) as c:
        await log_in(c)
        receipt_no = await submit_all(c, form_steps(code, "APP-RARE-0001", company=RARE_NAME, person=RARE_PERSON))
        page = (await c.get("/progress", params={"receipt_no": receipt_no})).text
        assert records(page)[0]["company_name"] == RARE_NAME
        receipt_page = (await c.get(f"/receipt/{receipt_no}")).text
        assert fields(receipt_page)["company_name"] == RARE_NAME
        admin = (await c.get("/_admin/submissions", params={"application_id": "APP-RARE-0001"})).json()
        assert admin[0]["data"]["company_name"] == RARE_NAME
    data = list_submissions(db)[0]["data"]
    assert data["company_name"] == RARE_NAME
    person_field = {
        "amr": "legal_rep_name",
        "psb_seal": "legal_rep_name",
        "hrss": "legal_rep_name",
        "hpf": "liaison_name",
    }
    assert data[person_field[code]] == RARE_PERSON
    assert len("𬱖") == 1 and "𬱖" in data["company_name"] and "䶮" in data["company_name"]


async def test_step_delay_slows_every_wizard_step(tmp_path):
    app, db = make_app("hpf", tmp_path, step_delay_s=0.2)
    steps = form_steps("hpf", "APP-SLOW-0001")
    async with client_for(app) as c:
        await log_in(c)
        t = time.perf_counter()
        await c.get("/apply/step/1")
        assert time.perf_counter() - t < 0.15  # showing a step is not slowed, answering it is
        await c.get("/apply")
        for n, data in enumerate(steps, 1):
            t = time.perf_counter()
            r = await c.post(f"/apply/step/{n}", data=data)
            assert r.status_code == 303 and time.perf_counter() - t >= 0.2
        # the submission is stored before the slow answer goes out
        task = asyncio.create_task(c.post("/apply/submit"))
        await asyncio.sleep(0.1)
        assert count_submissions(db, "APP-SLOW-0001") == 1 and not task.done()
        assert (await task).status_code == 303


async def test_admin_reject_and_complete(tmp_path):
    app, db = make_app("hrss", tmp_path, process_delay_s=3600)
    async with client_for(app) as c:
        await log_in(c)
        first = await submit_all(c, form_steps("hrss", "APP-ADM-0001"))
        second = await submit_all(c, form_steps("hrss", "APP-ADM-0002"))
        r = await c.post(f"/_admin/submissions/{first}/reject", json={"reason": "参保人员身份证复印件不清晰"})
        assert r.json()["status"] == "rejected"
        rec = records((await c.get("/progress", params={"receipt_no": first})).text)[0]
        assert rec["status"] == "已退回" and rec["reason"] == "参保人员身份证复印件不清晰"
        assert "si_unit_code" not in rec
        r = await c.post(f"/_admin/submissions/{second}/complete")
        assert r.json()["status"] == "completed" and r.json()["result"]["si_unit_code"]
        rec = records((await c.get("/progress", params={"receipt_no": second})).text)[0]
        assert rec["status"] == "已办结" and rec["si_unit_code"] == r.json()["result"]["si_unit_code"]
        assert (await c.post("/_admin/submissions/NOPE/reject", json={})).status_code == 404


async def test_amr_complete_now_issues_a_current_approval_date(tmp_path):
    app, db = make_app("amr", tmp_path, process_delay_s=3600)
    async with client_for(app) as c:
        await log_in(c)
        receipt_no = await submit_all(c, form_steps("amr", "APP-AMR-FF01"))
        done = (await c.post(f"/_admin/submissions/{receipt_no}/complete")).json()
    approved = datetime.fromisoformat(done["result"]["approved_at"])
    assert abs((approved - datetime.now(approved.tzinfo)).total_seconds()) < 60
    assert uscc_std.is_valid(done["result"]["uscc"])


# --- rejections and withdrawals ---------------------------------------------------------------


async def test_amr_rejects_names_marked_for_rejection_when_processing_ends(tmp_path):
    app, db = make_app("amr", tmp_path, process_delay_s=3600)
    async with client_for(app) as c:
        await log_in(c)
        marked = await submit_all(c, form_steps("amr", "APP-AMR-REJ1", company="太原测试驳回数据科技有限公司"))
        plain = await submit_all(c, form_steps("amr", "APP-AMR-OK01"))
        rec = records((await c.get("/progress", params={"receipt_no": marked})).text)[0]
        assert rec["status"] == "审核中" and "reason" not in rec  # decided when processing ends
        assert count_live_submissions(db, "APP-AMR-REJ1") == 1
        done = (await c.post(f"/_admin/submissions/{marked}/complete")).json()
        assert done["status"] == "rejected" and done["result"] is None
        assert done["reason"] == portal.AMR_NAME_TAKEN and done["reason"].startswith("名称重复")
        page = (await c.get("/progress", params={"receipt_no": marked})).text
        rec = records(page)[0]
        assert rec["status"] == "已退回" and rec["reason"] == portal.AMR_NAME_TAKEN and "uscc" not in rec
        assert "撤回原因" not in page  # a case sent back cannot be withdrawn
        assert (await c.post(f"/_admin/submissions/{plain}/complete")).json()["status"] == "completed"
    assert count_live_submissions(db, "APP-AMR-REJ1") == 0
    assert count_live_submissions(db, "APP-AMR-OK01") == 1
    # the trigger is amr's name check: another department accepts the name
    app, db = make_app("hpf", tmp_path / "hpf")
    async with client_for(app) as c:
        await log_in(c)
        await submit_all(c, form_steps("hpf", "APP-HPF-NAME", company="太原测试驳回数据科技有限公司"))
    assert list_submissions(db)[0]["status"] == "completed"


async def test_a_portal_rejects_what_it_is_told_to_until_the_rule_is_deleted(tmp_path):
    app, db = make_app(
        "hrss", tmp_path, process_delay_s=0.3, reject_application_ids={"APP-RULE-0001": "参保人员名单需补正"}
    )
    async with client_for(app) as c:
        await log_in(c)
        first = await submit_all(c, form_steps("hrss", "APP-RULE-0001"))
        second = await submit_all(c, form_steps("hrss", "APP-RULE-0002"))
        r = await c.post(
            "/_admin/rejections", json={"application_id": "APP-RULE-0002", "reason": "单位地址与执照不一致"}
        )
        assert r.status_code == 200 and r.json()["in_review_marked"] == 1  # applies to the case in review
        bystander = await submit_all(c, form_steps("hrss", "APP-RULE-0003"))
        assert (await c.get("/_admin/rejections")).json() == {
            "APP-RULE-0001": "参保人员名单需补正",
            "APP-RULE-0002": "单位地址与执照不一致",
        }
        assert (await c.post("/_admin/rejections", json={"reason": "x"})).status_code == 422
        await asyncio.sleep(0.35)

        async def state(receipt_no: str) -> dict:
            return records((await c.get("/progress", params={"receipt_no": receipt_no})).text)[0]

        recs = [await state(n) for n in (first, second, bystander)]
        assert [(r["status"], r.get("reason")) for r in recs] == [
            ("已退回", "参保人员名单需补正"),
            ("已退回", "单位地址与执照不一致"),
            ("已办结", None),
        ]
        # a case already processed is not undone by a later rule
        await c.post("/_admin/rejections", json={"application_id": "APP-RULE-0003", "reason": "迟到的规则"})
        assert (await state(bystander))["status"] == "已办结"

        # while the rule stands a new submission is rejected too, even if processed after the rule is deleted
        during = await submit_all(c, form_steps("hrss", "APP-RULE-0001"))
        assert (await c.delete("/_admin/rejections/APP-RULE-0001")).json() == {
            "application_id": "APP-RULE-0001",
            "removed": True,
        }
        assert (await c.delete("/_admin/rejections/APP-RULE-0001")).json()["removed"] is False
        corrected = await submit_all(c, form_steps("hrss", "APP-RULE-0001"))
        await asyncio.sleep(0.35)
        assert (await state(during))["status"] == "已退回"
        assert (await state(corrected))["status"] == "已办结"
    assert count_submissions(db, "APP-RULE-0001") == 3
    assert count_live_submissions(db, "APP-RULE-0001") == 1


async def test_withdrawal_from_the_progress_page(tmp_path):
    app, db = make_app("psb_seal", tmp_path, process_delay_s=3600)
    async with client_for(app) as c:
        r = await c.post("/cases/NOPE/withdrawal", data={"reason": "x"})
        assert r.status_code == 303 and r.headers["location"].startswith("/login")
        await log_in(c)
        receipt = await submit_all(c, form_steps("psb_seal", "APP-WD-0001"))
        page = (await c.get("/progress", params={"external_ref": "APP-WD-0001"})).text
        assert f'<label for="withdraw-reason-{receipt}">撤回原因</label>' in page
        assert f'action="/cases/{receipt}/withdrawal"' in page and ">撤回</button>" in page

        r = await c.post(f"/cases/{receipt}/withdrawal", data={"reason": "  "})
        assert alerts(r.text) == ["请填写撤回原因"] and count_live_submissions(db, "APP-WD-0001") == 1

        r = await c.post(f"/cases/{receipt}/withdrawal", data={"reason": "申请人撤回申请"})
        assert r.status_code == 303 and r.headers["location"] == f"/cases/{receipt}/withdrawal"
        shown = fields((await c.get(r.headers["location"])).text)
        assert shown["status"] == "已撤回" and shown["withdrawal_reason"] == "申请人撤回申请"
        # idempotent: withdrawing again confirms the first withdrawal
        r = await c.post(f"/cases/{receipt}/withdrawal", data={"reason": "又撤回一次"})
        assert fields((await c.get(r.headers["location"])).text) == shown
        page = (await c.get("/progress", params={"receipt_no": receipt})).text
        assert records(page)[0]["status"] == "已撤回" and "撤回原因</label>" not in page
        assert count_live_submissions(db, "APP-WD-0001") == 0

        # a case sent back stays sent back; a completed one (已办结: approved) is not withdrawn: refused
        sent_back = await submit_all(c, form_steps("psb_seal", "APP-WD-0002"))
        await c.post(f"/_admin/submissions/{sent_back}/reject", json={"reason": "印章类型需补正"})
        r = await c.post(f"/cases/{sent_back}/withdrawal", data={"reason": "申请人撤回申请"})
        assert fields((await c.get(r.headers["location"])).text)["status"] == "已退回"
        done = await submit_all(c, form_steps("psb_seal", "APP-WD-0003"))
        await c.post(f"/_admin/submissions/{done}/complete")
        page = (await c.get("/progress", params={"receipt_no": done})).text
        assert records(page)[0]["status"] == "已办结" and "撤回原因</label>" not in page  # not offered
        r = await c.post(f"/cases/{done}/withdrawal", data={"reason": "申请人撤回申请"})
        assert r.status_code == 409 and alerts(r.text) == [APPROVED_REFUSAL]
        assert records(r.text)[0]["status"] == "已办结"
        assert count_live_submissions(db, "APP-WD-0003") == 1
        assert (await c.post("/cases/NOPE/withdrawal", data={"reason": "x"})).status_code == 404

        # a new submission after the withdrawal is a new live case
        again = await submit_all(c, form_steps("psb_seal", "APP-WD-0001"))
        assert again != receipt
    assert count_submissions(db, "APP-WD-0001") == 2 and count_live_submissions(db, "APP-WD-0001") == 1
    assert [s["status"] for s in list_submissions(db)] == ["withdrawn", "rejected", "completed", "in_review"]


def test_an_older_store_file_gains_the_new_columns(tmp_path):
    db = tmp_path / "old.sqlite3"
    with sqlite3.connect(db) as conn:  # the schema of the first release
        conn.execute(
            "CREATE TABLE submissions (id INTEGER PRIMARY KEY AUTOINCREMENT, portal TEXT NOT NULL,"
            " application_id TEXT NOT NULL, receipt_no TEXT UNIQUE, submitted_at TEXT NOT NULL,"
            " submitted_ts REAL NOT NULL, ready_ts REAL NOT NULL, status TEXT NOT NULL DEFAULT 'in_review',"
            " reason TEXT, data TEXT NOT NULL, result TEXT, username TEXT)"
        )
    create_portal_app("hpf", db_path=db, username=USER, password=PASSWORD)
    with sqlite3.connect(db) as conn:
        columns = {r[1] for r in conn.execute("PRAGMA table_info(submissions)")}
    assert {"decision_reason", "withdrawn_at", "withdrawal_reason"} <= columns


# --- behaviours (issue 5) -------------------------------------------------------------------


def captcha_of(page: str) -> tuple[str, str]:
    question = html.unescape(re.search(r'<p class="captcha-question">(.*?)</p>', page).group(1))
    captcha_id = re.search(r'name="captcha_id" value="([^"]+)"', page).group(1)
    return question, captcha_id


async def test_captcha_wrong_answer_is_refused_with_a_new_captcha(tmp_path):
    app, _ = make_app("hpf", tmp_path, captcha="characters")
    async with client_for(app) as c:
        question, cid = captcha_of((await c.get("/login")).text)
        assert re.fullmatch(r"请输入验证码：[A-Z0-9]{4}", question)
        r = await c.post("/login", data={"username": USER, "password": PASSWORD, "captcha_id": cid, "captcha": "????"})
        assert r.status_code == 200 and alerts(r.text) == ["验证码错误，请重新输入"]
        question2, cid2 = captcha_of(r.text)
        assert cid2 != cid
        # the old captcha is used up, even with its right answer
        r = await c.post(
            "/login",
            data={"username": USER, "password": PASSWORD, "captcha_id": cid, "captcha": question.split("：")[1]},
        )
        assert alerts(r.text) == ["验证码错误，请重新输入"]
        _, cid3 = captcha_of(r.text)
        answer = captcha_of(r.text)[0].split("：")[1]
        r = await c.post("/login", data={"username": USER, "password": PASSWORD, "captcha_id": cid3, "captcha": answer})
        assert r.status_code == 303


async def test_admin_behaviour_is_read_changed_and_validated(tmp_path):
    app, _ = make_app("hpf", tmp_path, behaviour=portal.Behaviour(slow_s=0.0), error_rate=0.5)
    async with client_for(app) as c:
        assert (await c.get("/_admin/behaviour")).json()["error_rate"] == 0.5
        r = await c.put(
            "/_admin/behaviour", json={"maintenance": True, "maintenance_retry_after_s": 30, "error_rate": 0}
        )
        assert r.status_code == 200 and r.json()["maintenance"] is True
        r = await c.get("/login")
        assert r.status_code == 503 and r.headers["retry-after"] == "30" and "系统维护中" in r.text
        assert (await c.get("/_admin/health")).status_code == 200  # admin is exempt
        for bad in ({"version": 4}, {"captcha": "audio"}, {"error_rate": 2}, {"nonsense": 1}, [1]):
            assert (await c.put("/_admin/behaviour", json=bad)).status_code == 422
        assert (await c.get("/_admin/behaviour")).json()["version"] == 1
    with pytest.raises(ValueError):
        make_app("hpf", tmp_path, version=4)


async def test_error_rate_is_repeatable_with_a_seed(tmp_path):
    async def statuses() -> list[int]:
        app, _ = make_app("hpf", tmp_path, error_rate=0.3, error_seed=7)
        async with client_for(app) as c:
            return [(await c.get("/login")).status_code for _ in range(40)]

    first = await statuses()
    assert first == await statuses()
    assert 3 <= first.count(503) <= 25 and set(first) == {200, 503}


async def test_idle_session_expires_to_the_login_page(tmp_path):
    app, _ = make_app("hpf", tmp_path, session_idle_timeout_s=0.2)
    async with client_for(app) as c:
        await log_in(c)
        assert (await c.get("/progress")).status_code == 200
        await asyncio.sleep(0.3)
        r = await c.get("/progress")
        assert r.status_code == 303 and "expired=1" in r.headers["location"]
        assert "会话已过期" in (await c.get(r.headers["location"])).text


async def test_version_2_renames_labels_and_controls(tmp_path):
    app, _ = make_app("amr", tmp_path, version=2)
    async with client_for(app) as c:
        await log_in(c)
        page = (await c.get("/apply", follow_redirects=True)).text
        assert "名称（字号全称）" in page and 'name="v2_company_name"' in page
        assert ">企业名称<" not in page and 'name="company_name"' not in page


async def test_session_lifetime_ends_a_busy_session_and_the_relogin_is_counted(tmp_path):
    # the idle timeout is long and the session busy: only its age can end it
    app, _ = make_app("hpf", tmp_path, session_lifetime_s=0.6, session_idle_timeout_s=30)
    async with client_for(app) as c:
        await log_in(c)
        logged_in = time.monotonic()
        await c.post("/apply/step/1", data=form_steps("hpf", "KB-LIFETIME-1")[0])  # a draft in the session
        while True:
            r = await c.get("/progress")
            if r.status_code != 200 or time.monotonic() - logged_in > 10:
                break
            await asyncio.sleep(0.05)
        assert time.monotonic() - logged_in >= 0.6
        assert r.status_code == 303 and "expired=1" in r.headers["location"]
        assert "会话已过期" in (await c.get(r.headers["location"])).text
        counters = (await c.get("/_admin/counters")).json()
        assert counters["sessions_expired_lifetime"] == 1 and counters["sessions_expired_idle"] == 0
        assert counters["logins"] == 1 and counters["relogins_after_expiry"] == 0
        await log_in(c)  # the browser still sends the expired session's cookie: a re-login
        r = await c.get("/apply/step/2")  # the draft went with the session
        assert r.status_code == 303 and r.headers["location"] == "/apply/step/1"
        counters = (await c.get("/_admin/counters")).json()
        assert counters["logins"] == 2 and counters["relogins_after_expiry"] == 1
        assert counters["sessions_open"] == 1
        pages = counters["pages"]  # every counted request by method and path; /_admin is not one
        assert sum(pages.values()) == counters["requests"] and not any("/_admin" in k for k in pages)
        assert pages["POST /login"] == 2 and pages["POST /apply/step/1"] == 1 and pages["GET /apply/step/2"] == 1
        assert pages["GET /progress"] >= 2
    assert RECEIPT_IN_PATH.sub("/{no}", "/cases/SCJG20261204000001/withdrawal") == "/cases/{no}/withdrawal"
    assert RECEIPT_IN_PATH.sub("/{no}", "/apply/attachments") == "/apply/attachments"  # a word, not a number


async def test_session_lifetime_is_validated_and_changed_at_run_time(tmp_path):
    app, _ = make_app("hpf", tmp_path)
    async with client_for(app) as c:
        assert (await c.get("/_admin/behaviour")).json()["session_lifetime_s"] is None
        for bad in (0, -1, "120", True):
            r = await c.put("/_admin/behaviour", json={"session_lifetime_s": bad})
            assert r.status_code == 422 and "session_lifetime_s" in r.json()["detail"]
        await log_in(c)
        assert (await c.get("/progress")).status_code == 200
        r = await c.put("/_admin/behaviour", json={"session_lifetime_s": 0.05})
        assert r.status_code == 200 and r.json()["session_lifetime_s"] == 0.05
        await asyncio.sleep(0.1)
        r = await c.get("/progress")
        assert r.status_code == 303 and "expired=1" in r.headers["location"]
        assert (await c.put("/_admin/behaviour", json={"session_lifetime_s": None})).status_code == 200
        await log_in(c)
        await asyncio.sleep(0.1)
        assert (await c.get("/progress")).status_code == 200
    with pytest.raises(ValueError):
        make_app("hpf", tmp_path, session_lifetime_s=0)


async def test_counters_tell_the_injected_5xx_answers(tmp_path):
    app, _ = make_app("hpf", tmp_path, error_rate=0.3, error_seed=7)
    async with client_for(app) as c:
        statuses = [(await c.get("/login")).status_code for _ in range(40)]
        counters = (await c.get("/_admin/counters")).json()  # /_admin is neither failed nor counted
        assert counters["requests"] == 40
        assert counters["errors_injected"] == counters["responses_5xx"] == statuses.count(503) > 0
        # a POST that fails did its work first: the login happened and is counted with the 503
        assert (await c.put("/_admin/behaviour", json={"error_rate": 1.0})).status_code == 200
        r = await c.post("/login", data={"username": USER, "password": PASSWORD, "next": "/"})
        assert r.status_code == 503 and "服务暂时不可用" in r.text
        after = (await c.get("/_admin/counters")).json()
        assert after["logins"] == counters["logins"] + 1 == 1
        assert after["errors_injected"] == after["responses_5xx"] == counters["errors_injected"] + 1
        assert after["requests"] == 41
        assert app.state.counters["errors_injected"] == after["errors_injected"]
