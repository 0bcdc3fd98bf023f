"""Next year's calendar end to end: an admin loads a year's arrangement through the API; the promised
completion times it answers change at once, and a running application's deadlines re-plan (real Temporal
dev server, real worker, the CalendarRollout workflow through visibility)."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta

import httpx

from cli.worker import running_workers
from domain.arrangements import packaged_year
from runtime.access import DEV_SUPERVISOR
from tests.e2e.conftest import e2e_settings, running_api, running_departments
from tests.e2e.test_end_to_end import CLERK

ADMIN = {"Authorization": "Bearer admin-dev-token"}
# made up for the test (the shape of a notice: New Year's Day and the Monday after it off, a make-up Saturday)
TEST_2027 = {
    "holidays": ["2027-01-01", "2027-01-02", "2027-01-03", "2027-01-04"],
    "workdays": ["2027-01-09"],
    "source": "test arrangement",
}


async def amr_due(http: httpx.AsyncClient, app_id: str) -> datetime | None:
    detail = (await http.get(f"/api/v1/applications/{app_id}", headers=DEV_SUPERVISOR)).json()
    due = next(d for d in detail["departments"] if d["code"] == "amr").get("due_at")
    return datetime.fromisoformat(due) if due else None


async def eventually(probe, timeout: float = 60.0):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        value = await probe()
        if value:
            return value
        await asyncio.sleep(0.3)
    raise AssertionError("never happened")


def year_as_the_calendar_has_it(settings, year: int, *, also_off: list[date]) -> dict:
    """``year``'s arrangement as the running calendar answers it, with ``also_off`` days off too."""
    calendar = settings.working_calendar()
    days = [date(year, 1, 1) + timedelta(days=n) for n in range((date(year + 1, 1, 1) - date(year, 1, 1)).days)]
    holidays = {d for d in days if d.weekday() < 5 and not calendar.is_working_day(d)} | set(also_off)
    workdays = {d for d in days if d.weekday() >= 5 and calendar.is_working_day(d)} - set(also_off)
    return {
        "holidays": sorted(d.isoformat() for d in holidays),
        "workdays": sorted(d.isoformat() for d in workdays),
        "source": "test: the week of the deadline off",
    }


async def test_loading_an_arrangement_changes_deadlines_now_and_of_open_applications(dev_env, tmp_path, sample_json):
    async with running_departments(tmp_path, process_delay_s=3600) as departments:  # tasks stay open
        settings = e2e_settings(departments, tmp_path)
        async with running_workers(dev_env.client, settings), running_api(settings, dev_env.client) as api:
            async with httpx.AsyncClient(base_url=api, timeout=30) as http:
                # the promised time for a submission on Monday 4 January 2027, before and after loading 2027
                query = {"submitted_at": "2027-01-04T10:00:00+08:00"}
                before = (await http.get("/api/v1/deadlines", params=query, headers=CLERK)).json()
                if not packaged_year(2027):  # chinese-calendar 1.11 does not carry 2027
                    assert before["years_without_official_data"] == [2027]
                    assert "2027 年的法定节假日安排尚未载入" in before["calendar_notice"]
                    overview = (await http.get("/api/v1/admin/calendar", headers=ADMIN)).json()
                    assert {"year": 2027, "official": False} in [
                        {k: y[k] for k in ("year", "official")} for y in overview["years"]
                    ]
                assert (await http.put("/api/v1/admin/calendar/2027", json=TEST_2027, headers=CLERK)).status_code == 403
                bad = {**TEST_2027, "workdays": ["2027-01-06"]}  # a Wednesday is no make-up day
                r = await http.put("/api/v1/admin/calendar/2027", json=bad, headers=ADMIN)
                assert r.status_code == 422 and "周六或周日" in r.json()["detail"], r.text
                r = await http.put("/api/v1/admin/calendar/2027", json=TEST_2027, headers=ADMIN)
                assert r.status_code == 200, r.text
                loaded = r.json()
                assert loaded["changed"] is True and loaded["rollout_workflow_id"].startswith("calendar-rollout-")
                assert loaded["loaded_by"] == "admin-0001"
                again = (await http.put("/api/v1/admin/calendar/2027", json=TEST_2027, headers=ADMIN)).json()
                assert again["changed"] is False and again["rollout_workflow_id"] is None
                after = (await http.get("/api/v1/deadlines", params=query, headers=CLERK)).json()
                assert after["years_without_official_data"] == [] and after["calendar_notice"] is None
                assert datetime.fromisoformat(after["application_due_at"]).date() == date(2027, 1, 5)
                assert datetime.fromisoformat(before["application_due_at"]).date() == date(2027, 1, 4)
                got = (await http.get("/api/v1/admin/calendar/2027", headers=DEV_SUPERVISOR)).json()
                assert got["origin"] == "loaded" and got["holidays"] == TEST_2027["holidays"]

                # an open application: the week of amr's deadline becomes days off; its deadline moves past it
                r = await http.post("/api/v1/applications", json=sample_json, headers=CLERK)
                assert r.status_code == 202
                app_id = r.json()["application_id"]
                due = await eventually(lambda: amr_due(http, app_id))
                week = [due.date() + timedelta(days=n) for n in range(7)]
                off = [d for d in week if d.weekday() < 5 and d.year == due.year]
                body = year_as_the_calendar_has_it(settings.model_copy(), due.year, also_off=off)
                if due.year == 2027:
                    body["holidays"] = sorted(set(body["holidays"]) | set(TEST_2027["holidays"]))
                r = await http.put(f"/api/v1/admin/calendar/{due.year}", json=body, headers=ADMIN)
                assert r.status_code == 200 and r.json()["changed"], r.text

                async def moved():
                    new = await amr_due(http, app_id)
                    return new if new is not None and new > due else None

                new_due = await eventually(moved)
                assert new_due.date() > max(off) and new_due.weekday() < 5
                detail = (await http.get(f"/api/v1/applications/{app_id}", headers=DEV_SUPERVISOR)).json()
                assert any(h["event"] == "calendar_updated" for h in detail["history"]), detail["history"]
                board = (await http.get("/api/v1/supervision/board", headers=DEV_SUPERVISOR)).json()
                [item] = [i for i in board["items"] if i["application_id"] == app_id and i["department"] == "amr"]
                assert datetime.fromisoformat(item["due_at"]) == new_due
                audit = (await http.get("/api/v1/audit", params={"action": "load_year"}, headers=ADMIN)).json()
                assert len([e for e in audit["items"] if e["outcome"] == "allowed"]) == 3
                await dev_env.client.get_workflow_handle(app_id).terminate("test over")
