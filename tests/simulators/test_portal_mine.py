"""我的办件 (GET /mine): the logged-in account's own filings, newest first, paged, with status and result."""

from __future__ import annotations

import html
import re

from simulators.portal import store
from tests.simulators.test_portal import USER, client_for, log_in, make_app

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
