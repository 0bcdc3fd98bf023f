"""我的办件 (GET /mine): the logged-in account's own filings, newest first, paged, with status and result."""

from __future__ import annotations

import html
import re

import pytest

from simulators.portal import store
from tests.simulators.test_both_channels import API_NATIVE, AUTH, api_portal_steps, json_body, post
from tests.simulators.test_both_channels import client_for as department_client
from tests.simulators.test_both_channels import make as make_department
from tests.simulators.test_portal import USER, client_for, log_in, make_app, submit_all

PAGE = 20


def rows(page: str) -> list[dict]:
    """Every listed case as ``{data-field: text}`` (keyed fields as ``{field: {key: text}}``)."""
    out = []
    for chunk in re.findall(r"<tr data-record.*?</tr>", page, re.S):
        row: dict = {}
        for name, key, text in re.findall(r'data-field="([^"]+)"(?: data-key="([^"]*)")?>([^<]*)<', chunk):
            if key:
                row.setdefault(name, {})[html.unescape(key)] = html.unescape(text)
            else:
                row[name] = html.unescape(text)
        out.append(row)
    return out


def next_link(page: str) -> str | None:
    m = re.search(r'<a href="([^"]+)" rel="next">下一页</a>', page)
    return html.unescape(m.group(1)) if m else None


def file(app, application_id: str, *, username: str | None = USER, delay_s: float = 0.0, channel=None) -> dict:
    data = {"external_ref": application_id, "company_name": f"{application_id} 公司", "uscc": "x", "employee_count": 3}
    return app.state.portal.filings.file(
        data, username=username, decision=None, process_delay_s=delay_s, channel=channel
    )


async def test_the_list_shows_only_the_accounts_filings_newest_first_in_pages(tmp_path):
    app, db = make_app("hpf", tmp_path)
    ours = [file(app, f"APP-MINE-{i:04d}") for i in range(45)]
    file(app, "APP-OTHER-0001", username="another-clerk")  # another account of the same portal
    file(app, "APP-API-0001", username=None, channel="api")  # through the department's JSON API
    async with client_for(app) as client:
        await log_in(client)
        seen: list[dict] = []
        link: str | None = "/mine"
        pages = 0
        while link:
            r = await client.get(link)
            assert r.status_code == 200
            page_rows = rows(r.text)
            assert len(page_rows) == (PAGE if pages < 2 else 5)
            seen += page_rows
            link = next_link(r.text)
            pages += 1
        assert pages == 3
        assert [r["receipt_no"] for r in seen] == [r["receipt_no"] for r in reversed(ours)]
        assert {r["application_id"] for r in seen} == {f"APP-MINE-{i:04d}" for i in range(45)}
        first = seen[0]
        assert first["status"] == "已办结" and first["hpf_unit_account"] and first["decided_at"]
        assert first["submitted_at"] == ours[-1]["submitted_at"]
        # a page past the end is empty; the first page has no 上一页
        r = await client.get("/mine?page=4")
        assert rows(r.text) == [] and next_link(r.text) is None
        assert 'rel="prev"' not in (await client.get("/mine")).text


async def test_the_list_filters_by_status_and_shows_why_a_case_was_sent_back_or_withdrawn(tmp_path):
    app, db = make_app("hpf", tmp_path)
    waiting = file(app, "APP-MINE-WAIT", delay_s=3600)
    done = file(app, "APP-MINE-DONE")
    sent_back = file(app, "APP-MINE-BACK", delay_s=3600)
    store.set_status(db, sent_back["receipt_no"], store.REJECTED, "缴存比例有误")
    withdrawn = file(app, "APP-MINE-WD", delay_s=3600)
    app.state.portal.filings.withdraw(withdrawn["receipt_no"], "申请人撤回")
    async with client_for(app) as client:
        await log_in(client)
        listed = {r["receipt_no"]: r for r in rows((await client.get("/mine")).text)}
        assert listed[waiting["receipt_no"]]["status"] == "审核中"
        assert "decided_at" not in listed[waiting["receipt_no"]]
        assert "hpf_unit_account" not in listed[waiting["receipt_no"]]  # issued only once processing is over
        assert listed[done["receipt_no"]]["status"] == "已办结"
        assert listed[sent_back["receipt_no"]]["reason"] == "缴存比例有误"
        assert listed[sent_back["receipt_no"]]["decided_at"]
        assert listed[withdrawn["receipt_no"]]["withdrawal_reason"] == "申请人撤回"
        for word, receipt in (("in_review", waiting), ("已退回", sent_back), ("completed", done)):
            r = await client.get("/mine", params={"status": word})
            assert [x["receipt_no"] for x in rows(r.text)] == [receipt["receipt_no"]]
        assert (await client.get("/mine", params={"status": "bogus"})).status_code == 400


async def test_the_list_needs_a_session(tmp_path):
    app, _ = make_app("amr", tmp_path)
    async with client_for(app) as client:
        r = await client.get("/mine?page=2")
        assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")
        await log_in(client)
        r = await client.get("/")
        assert '<a href="/mine">我的办件</a>' in r.text  # in the main menu


# the portals of the API departments (tax, nhsa, bank): their one account is the department's only account


def api_portal_file(app, code: str, application_id: str, *, delay_s: float = 0.0) -> dict:
    """A filing on the portal of an API department (the wizard's stored form), straight into its store."""
    data = {k: v for step in api_portal_steps(code, application_id) for k, v in step.items()}
    return app.state.portal.filings.file(data, username=USER, decision=None, process_delay_s=delay_s)


RESULT_FIELDS = {
    "tax": ("taxpayer_id", "tax_authority"),
    "nhsa": ("mi_unit_code",),
    "bank": ("account_no", "bank_code"),
}


@pytest.mark.parametrize("code", API_NATIVE)
async def test_an_api_departments_portal_lists_every_filing_of_its_store_newest_first_in_pages(code, tmp_path):
    app, _db = make_department(code, tmp_path)
    filed: list[str] = []  # receipt numbers (tickets), oldest first
    async with department_client(app) as client:
        for i in range(44):  # through the API and through the portal, in turn
            aid = f"APP-{code.upper()}-{i:04d}"
            if i % 2:
                r = await post(client, json_body(code, aid))
                assert r.status_code == 202, r.text
                filed.append(r.json()["ticket"])
            else:
                filed.append(api_portal_file(app, code, aid)["receipt_no"])
        await log_in(client)
        filed.append(await submit_all(client, api_portal_steps(code, f"APP-{code.upper()}-WIZARD")))
        seen: list[dict] = []
        link: str | None = "/mine"
        pages = 0
        while link:
            r = await client.get(link)
            assert r.status_code == 200
            page_rows = rows(r.text)
            assert len(page_rows) == (PAGE if pages < 2 else 5)
            assert "共 45 件" in r.text
            seen += page_rows
            link = next_link(r.text)
            pages += 1
        assert pages == 3
        assert [r["receipt_no"] for r in seen] == list(reversed(filed))
        newest = seen[0]
        assert newest["application_id"] == f"APP-{code.upper()}-WIZARD"
        assert newest["company_name"] == "太原晋创云数据科技有限公司"
        api = (await client.get(f"/api/v1/submissions/{filed[-2]}", headers=AUTH)).json()
    assert {r["status"] for r in seen} == {"已办结"}
    listed = seen[1]  # filed through the API: on the list all the same, with the result the API answers
    assert listed["receipt_no"] == api["ticket"] and listed["submitted_at"] == api["received_at"]
    assert listed["decided_at"] and all(listed[k] == api["result"][k] for k in RESULT_FIELDS[code])
    if code == "tax":
        assert listed["invoice_type"] == {"数电普通发票": "已核定"}


@pytest.mark.parametrize("code", API_NATIVE)
async def test_an_api_departments_list_filters_by_status_and_shows_results_and_reasons(code, tmp_path):
    app, _db = make_department(code, tmp_path, process_delay_s=3600)
    waiting = api_portal_file(app, code, "APP-WAIT", delay_s=3600)
    done = api_portal_file(app, code, "APP-DONE", delay_s=0)
    async with department_client(app) as client:
        sent_back = (await post(client, json_body(code, "APP-BACK"))).json()["ticket"]
        r = await client.post(f"/_admin/submissions/{sent_back}/reject", json={"reason": "经营地址需补正"})
        assert r.status_code == 200, r.text
        withdrawn = (await post(client, json_body(code, "APP-WD"))).json()["ticket"]
        r = await client.post(
            f"/api/v1/submissions/{withdrawn}/withdrawal", json={"reason": "申请人撤回"}, headers=AUTH
        )
        assert r.status_code == 200, r.text
        done_api = (await client.get(f"/api/v1/submissions/{done['receipt_no']}", headers=AUTH)).json()
        await log_in(client)
        listed = {r["receipt_no"]: r for r in rows((await client.get("/mine")).text)}
        assert list(listed) == [withdrawn, sent_back, done["receipt_no"], waiting["receipt_no"]]  # newest first
        assert listed[waiting["receipt_no"]]["status"] == "审核中"
        assert "decided_at" not in listed[waiting["receipt_no"]]
        assert not set(RESULT_FIELDS[code]) & set(listed[waiting["receipt_no"]])  # issued once processing is over
        assert listed[done["receipt_no"]]["status"] == "已办结" and listed[done["receipt_no"]]["decided_at"]
        assert all(listed[done["receipt_no"]][k] == done_api["result"][k] for k in RESULT_FIELDS[code])
        assert listed[sent_back]["status"] == "已退回" and listed[sent_back]["reason"] == "经营地址需补正"
        assert listed[sent_back]["decided_at"]
        assert listed[withdrawn]["status"] == "已撤回" and listed[withdrawn]["withdrawal_reason"] == "申请人撤回"
        for word, receipt in (
            ("in_review", waiting["receipt_no"]),
            ("已退回", sent_back),
            ("completed", done["receipt_no"]),
            ("已撤回", withdrawn),
        ):
            r = await client.get("/mine", params={"status": word})
            assert [x["receipt_no"] for x in rows(r.text)] == [receipt]
            assert "共 1 件" in r.text
        assert (await client.get("/mine", params={"status": "processing"})).status_code == 400  # the API's word
