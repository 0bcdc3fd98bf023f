"""The pages plan on the API's current calendar (api.calendars.CalendarBook: the arrangements admins
loaded), not on the settings' alone. In Chromium against the whole stack, with amr stalled (simulators take
an hour): before loading, the board shows its calendar warning for next year and marks amr's task 估算 (its
year taken as not yet carried by chinese-calendar, so the test means the same whatever year it runs in);
after an admin loads next year and the year of the deadline with its week off, the warning and the mark are
gone and the application page's countdown counts that week as days off (the settings' calendar alone would
count five more working days)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import httpx
from playwright.async_api import expect

import domain.calendar
from api.pages import view
from api.routers import supervision
from cli.worker import running_workers
from domain.arrangements import YearArrangement
from domain.calendar import SHANGHAI
from domain.sla import remaining_working_minutes
from runtime.access import DEV_SUPERVISOR
from tests.e2e.conftest import e2e_settings, running_api, running_departments
from tests.e2e.pages.conftest import person, serious_violations, shot
from tests.e2e.pages.pages import BoardPage
from tests.e2e.test_calendar import ADMIN, amr_due, eventually, year_as_the_calendar_has_it
from tests.e2e.test_end_to_end import CLERK


def first_weekday(year: int) -> date:
    d = date(year, 1, 2)
    while d.weekday() >= 5:
        d += timedelta(days=1)
    return d


async def test_the_pages_count_on_the_arrangements_an_admin_loaded(
    dev_env, tmp_path, sample_json, browser, monkeypatch
):
    async with running_departments(tmp_path, process_delay_s=3600) as departments:
        settings = e2e_settings(departments, tmp_path)
        async with running_workers(dev_env.client, settings), running_api(settings, dev_env.client) as api:
            async with httpx.AsyncClient(base_url=api, timeout=30) as http:
                r = await http.post("/api/v1/applications", json=sample_json, headers=CLERK)
                assert r.status_code == 202, r.text
                app_id = r.json()["application_id"]
                due = await eventually(lambda: amr_due(http, app_id))

                async def amr_filed() -> bool:  # its countdown shows once the robot has filed (on a busy machine later)
                    detail = (await http.get(f"/api/v1/applications/{app_id}", headers=DEV_SUPERVISOR)).json()
                    amr = next(d for d in detail["departments"] if d["code"] == "amr")
                    return amr["status"] in ("dispatched", "in_review")

                await eventually(amr_filed, timeout=120)
                board = (await http.get("/api/v1/supervision/board", headers=DEV_SUPERVISOR)).json()
            [item] = [i for i in board["items"] if i["application_id"] == app_id and i["department"] == "amr"]
            calendar = settings.working_calendar()
            local_due = calendar.to_local(due)
            year = local_due.year
            week_off = [local_due.date() + timedelta(days=n) for n in range(7)]
            week_off = [d for d in week_off if d.weekday() < 5 and d.year == year]
            this_year = year_as_the_calendar_has_it(settings.model_copy(), year, also_off=week_off)
            next_year = {"holidays": [first_weekday(year + 1).isoformat()], "workdays": [], "source": "test"}
            bodies = {year + 1: next_year, year: this_year}

            # as if chinese-calendar carried neither the deadline's year nor the next: the test means the same in any year
            packaged = domain.calendar.packaged_year
            monkeypatch.setattr(domain.calendar, "packaged_year", lambda y: y not in (year, year + 1) and packaged(y))
            monkeypatch.setattr(supervision, "board_now", lambda: datetime(year, 11, 20, 10, tzinfo=SHANGHAI))
            start = calendar.to_local(calendar.next_working_start(datetime.fromisoformat(item["dispatched_at"])))
            monkeypatch.setattr(view, "now", lambda: start)

            supervisor = await person(browser, api, "supervisor")
            board_page = BoardPage(supervisor.page)
            await board_page.open()
            warning = supervisor.page.locator("#calendar-warning")
            await expect(warning).to_contain_text(f"{year + 1} 年的法定节假日安排尚未载入")
            row = board_page.task(app_id, "amr")
            await expect(row).to_have_attribute("data-estimated", "true")
            await expect(row).to_contain_text("估算")
            await expect(supervisor.page.locator("#estimated-note")).to_be_visible()
            await shot(supervisor.page, "board-calendar-warning")
            assert await serious_violations(supervisor.page) == []

            clerk = await person(browser, api, "clerk")
            await clerk.page.goto(f"/applications/{app_id}")
            amr = clerk.page.locator("#dept-amr")
            await expect(amr.locator(".estimated")).to_contain_text("估算")
            assert await serious_violations(clerk.page) == []

            async with httpx.AsyncClient(base_url=api, timeout=30, headers=ADMIN) as http:
                for y, body in bodies.items():
                    r = await http.put(f"/api/v1/admin/calendar/{y}", json=body)
                    assert r.status_code == 200, r.text

                async def moved():
                    new = await amr_due(http, app_id)
                    return new if new is not None and new > due else None

                new_due = await eventually(moved)

            # the open board updates itself: no warning, amr's task no longer estimated
            await expect(warning).to_have_count(0, timeout=15_000)
            await expect(row).to_have_attribute("data-estimated", "false", timeout=15_000)
            await expect(supervisor.page.locator("#estimated-note")).to_have_count(0)
            assert supervisor.problems == []
            await supervisor.close()

            loaded = settings.working_calendar({y: YearArrangement(year=y, **body) for y, body in bodies.items()})
            expected = remaining_working_minutes(start, new_due, loaded)
            settings_alone = remaining_working_minutes(start, new_due, settings.working_calendar())
            assert settings_alone - expected >= 4 * 60  # the week off counts: the test tells the two apart
            await clerk.page.reload()
            countdown = amr.locator(".countdown")
            await expect(amr.locator(".estimated")).to_have_count(0)
            remaining = float(await countdown.get_attribute("data-remaining"))
            assert abs(remaining - expected) < 1.0, (remaining, expected, settings_alone)
            await shot(clerk.page, "application-loaded-calendar")
            assert clerk.problems == []
            await clerk.close()
            await dev_env.client.get_workflow_handle(app_id).terminate("test over")
