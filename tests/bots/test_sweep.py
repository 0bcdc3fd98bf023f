"""The 我的办件 sweep in real Chromium against a real portal simulator: several pages read, each case
read into the same Inquiry the per-task inquiry gives, stopping at what the sweeper already knows."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta

import httpx

from bots.flows import PortalAccess, dispatch, inquire
from bots.sweep import next_since, sweep
from simulators.department import create_department_app
from simulators.department_api import list_submissions as list_api_submissions
from simulators.department_api import store as api_store
from tests.bots.conftest import PASSWORD, UPSTREAM_USCC, USERNAME, portal_app
from tests.support.servers import serve_app

N = 45  # three pages of 20
TAX_N = 25  # two pages
TAX_DONE = (3, 15)  # cases the department has decided (completed)
TAX_TOKEN = "sweep-api-token"  # the portal password holds non-ASCII characters; a header cannot
TAX_AUTH = {"Authorization": f"Bearer {TAX_TOKEN}"}


async def test_a_sweep_reads_every_page_and_reads_each_case_as_inquire_does(tmp_path, page, make_request):
    async with portal_app(tmp_path, "psb_seal") as (portal, app):
        request = make_request("psb_seal")
        first = await dispatch(page, portal.access, request)  # one filed by the robot, the rest copies of it
        data = portal.stored(request.application_id)[0]["data"]
        ids = [request.application_id] + [f"{request.application_id}-{i:02d}" for i in range(1, N)]
        receipts = [first.receipt_no] + [
            app.state.portal.filings.file(
                {**data, "external_ref": aid}, username=USERNAME, decision=None, process_delay_s=3600
            )["receipt_no"]
            for aid in ids[1:]
        ]
        app.state.portal.filings.file(  # another account's filing is not on this account's list
            {**data, "external_ref": "OTHER-ACCOUNT-1"}, username="someone-else", decision=None, process_delay_s=0
        )
        done = await portal.admin("complete", receipts[0])
        await portal.admin("reject", receipts[7], reason="印章样式不符，需补正")
        await portal.admin("complete", receipts[30])
        app.state.portal.filings.withdraw(receipts[44], "申请人撤回")

        result = await sweep(page, portal.access, "psb_seal", max_pages=10)

        assert result.pages == 3 and result.complete and result.unreadable == 0
        assert [c.receipt_no for c in result.cases] == list(reversed(receipts))  # newest first, each once
        assert {c.application_id for c in result.cases} == set(ids)
        by_receipt = {c.receipt_no: c for c in result.cases}
        assert {c.receipt_no for c in result.decided} == {receipts[i] for i in (0, 7, 30, 44)}
        # each case as the per-task inquiry reads it (one reading: flows.inquiry_of)
        for i in (0, 7, 30, 44, 12):
            swept = by_receipt[receipts[i]]
            asked = await inquire(page, portal.access, "psb_seal", ids[i], receipts[i])
            assert swept.inquiry == asked
        completed = by_receipt[receipts[0]].inquiry
        assert completed.status == "completed"
        assert set(completed.result["seal_codes"]) == set(request.application.seal.types)
        assert sorted(completed.result["seal_codes"].values()) == sorted(done["result"]["seal_codes"].values())
        assert by_receipt[receipts[7]].inquiry.reason == "印章样式不符，需补正"
        assert by_receipt[receipts[44]].inquiry.status == "withdrawn"
        assert by_receipt[receipts[12]].inquiry.status == "in_review"
        assert by_receipt[receipts[0]].decided_at is not None and by_receipt[receipts[12]].decided_at is None

        # a page limit stops early: not complete
        capped = await sweep(page, portal.access, "psb_seal", max_pages=2)
        assert capped.pages == 2 and not capped.complete and len(capped.cases) == 40

        # the 30 oldest were filed an hour earlier: a sweep since half an hour ago reads only the newest page
        with sqlite3.connect(portal.db) as conn:
            for receipt in receipts[:30]:
                row = conn.execute("SELECT submitted_at FROM submissions WHERE receipt_no = ?", (receipt,)).fetchone()
                earlier = datetime.fromisoformat(row[0]) - timedelta(hours=1)
                conn.execute(
                    "UPDATE submissions SET submitted_at = ? WHERE receipt_no = ?",
                    (earlier.isoformat(timespec="seconds"), receipt),
                )
        newest = by_receipt[receipts[44]].submitted_at
        assert newest is not None
        recent = await sweep(page, portal.access, "psb_seal", since=newest - timedelta(minutes=30))
        assert recent.complete and recent.pages == 1
        assert [c.receipt_no for c in recent.cases] == list(reversed(receipts[30:]))


async def test_a_sweep_reads_the_tax_portals_list_of_every_filing_of_its_store(tmp_path, page, make_request):
    """tax moved to the robot channel: its portal (over the department API's store) lists every filing of
    the store, through the portal or the API (its one account is the department's), read as inquire reads it."""
    db = tmp_path / "tax.sqlite3"
    app = create_department_app(
        "tax", db_path=db, username=USERNAME, password=PASSWORD, token=TAX_TOKEN, process_delay_s=3600
    )
    async with serve_app(app) as url, httpx.AsyncClient(base_url=url, headers=TAX_AUTH) as api:
        access = PortalAccess(base_url=url, username=USERNAME, password=PASSWORD)
        request = make_request("tax")
        first = await dispatch(page, access, request)  # filed by the robot on the portal, the rest through the API
        payload = list_api_submissions(db)[0]["payload"]
        ids = [request.application_id] + [f"{request.application_id}-{i:02d}" for i in range(1, TAX_N)]
        receipts = [first.receipt_no]
        for i, aid in enumerate(ids[1:], 1):
            if i in TAX_DONE:  # decided at once: filed straight into the department's store
                body = app.state.department_api.body_model.model_validate({**payload, "application_id": aid})
                receipts.append(api_store.store(db, "tax", body, 0.0)[0]["ticket"])
                continue
            r = await api.post("/api/v1/submissions", json={**payload, "application_id": aid})
            assert r.status_code == 202, r.text
            receipts.append(r.json()["ticket"])
        (
            await api.post(f"/_admin/submissions/{receipts[7]}/reject", json={"reason": "财务负责人信息需补正"})
        ).raise_for_status()
        (
            await api.post(f"/api/v1/submissions/{receipts[24]}/withdrawal", json={"reason": "申请人撤回"})
        ).raise_for_status()
        done = (await api.get(f"/api/v1/submissions/{receipts[3]}")).json()

        result = await sweep(page, access, "tax", max_pages=10)

        assert result.pages == 2 and result.complete and result.unreadable == 0
        assert [c.receipt_no for c in result.cases] == list(reversed(receipts))  # newest first, each once
        assert {c.application_id for c in result.cases} == set(ids)
        by_receipt = {c.receipt_no: c for c in result.cases}
        assert {c.receipt_no for c in result.decided} == {receipts[i] for i in (*TAX_DONE, 7, 24)}
        for i in (0, 3, 7, 24, 12):  # each case as the per-task inquiry reads it
            asked = await inquire(page, access, "tax", ids[i], receipts[i])
            assert by_receipt[receipts[i]].inquiry == asked
        completed = by_receipt[receipts[3]].inquiry
        assert completed.status == "completed" and completed.result is not None
        assert completed.result["taxpayer_id"] == done["result"]["taxpayer_id"] == UPSTREAM_USCC
        assert completed.result["tax_authority"] == done["result"]["tax_authority"]
        assert completed.result["invoice_types"] == done["result"]["invoice_types"]
        assert by_receipt[receipts[7]].inquiry.status == "rejected"
        assert by_receipt[receipts[7]].inquiry.reason == "财务负责人信息需补正"
        assert by_receipt[receipts[24]].inquiry.status == "withdrawn"
        assert by_receipt[receipts[0]].inquiry.status == "in_review"
        assert by_receipt[receipts[0]].decided_at is None and by_receipt[receipts[3]].decided_at is not None
        assert by_receipt[receipts[0]].submitted_at is not None


def test_the_next_sweep_stops_at_the_oldest_case_still_to_be_decided():
    from bots.sweep import SweepResult, SweptCase
    from domain.results import Inquiry

    t0 = datetime(2030, 3, 4, 10, 0).astimezone()

    def case(n: int, status: str, decided_min: int | None = None) -> SweptCase:
        decided = t0 + timedelta(minutes=decided_min) if decided_min is not None else None
        return SweptCase(f"R{n}", f"A{n}", t0 + timedelta(minutes=n), decided, Inquiry(status=status))

    now = t0 + timedelta(minutes=60)
    recheck = timedelta(minutes=5)
    waiting = SweepResult(cases=[case(9, "completed", 50), case(5, "in_review"), case(2, "completed", 10)])
    assert next_since(waiting, None, now=now, recheck=recheck, taken={"R9"}) == t0 + timedelta(minutes=5)
    # all decided and delivered: the newest case read
    settled = SweepResult(cases=[case(9, "completed", 50), case(2, "rejected", 10)])
    assert next_since(settled, None, now=now, recheck=recheck, taken={"R9", "R2"}) == t0 + timedelta(minutes=9)
    # decided just now, not yet taken by its application (it may not know the receipt yet): read again
    fresh = SweepResult(cases=[case(9, "completed", 58), case(2, "completed", 10)])
    assert next_since(fresh, None, now=now, recheck=recheck, taken=set()) == t0 + timedelta(minutes=9)
    assert next_since(fresh, None, now=now + recheck, recheck=recheck, taken=set()) == t0 + timedelta(minutes=9)
    older_untaken = SweepResult(cases=[case(9, "completed", 50), case(2, "completed", 58)])
    assert next_since(older_untaken, None, now=now, recheck=recheck, taken={"R9"}) == t0 + timedelta(minutes=2)
    # stopped at the page limit with nothing pending: the oldest read; nothing read: unchanged
    capped = SweepResult(cases=[case(9, "completed", 50), case(4, "completed", 10)], complete=False)
    assert next_since(capped, None, now=now, recheck=recheck, taken={"R9", "R4"}) == t0 + timedelta(minutes=4)
    assert next_since(SweepResult(), t0, now=now, recheck=recheck) == t0
