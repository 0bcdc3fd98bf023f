"""The supervisor's board in Chromium: a stalled department (the simulators take an hour) turns at risk,
then breached, as the board's clock moves (board_now: the test's clock, whatever day it runs); its wall
layout at 1920×1080; the department's inbox."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
from playwright.async_api import expect

from api.routers import supervision
from cli.worker import running_workers
from runtime.access import DEV_SUPERVISOR
from tests.e2e.conftest import e2e_settings, running_api, running_departments
from tests.e2e.pages.conftest import WALL, person, serious_violations, shot
from tests.e2e.pages.pages import BoardPage, FormPage
from tests.e2e.test_supervision import wait_board


async def test_the_board_shows_a_stalled_department_at_risk_then_breached(
    dev_env, tmp_path, sample_json, browser, monkeypatch
):
    async with running_departments(tmp_path, process_delay_s=3600) as departments:
        settings = e2e_settings(departments, tmp_path)
        async with running_workers(dev_env.client, settings), running_api(settings, dev_env.client) as api:
            clerk = await person(browser, api, "clerk")
            form = FormPage(clerk.page)
            await form.open_new()
            await form.fill(sample_json)
            await form.submit()
            await clerk.page.wait_for_url("**/applications/KB*")
            app_id = clerk.page.url.rsplit("/", 1)[1]
            await clerk.close()

            async with httpx.AsyncClient(base_url=api, timeout=30, headers=DEV_SUPERVISOR) as http:
                board = await wait_board(
                    http, lambda b: any(i["application_id"] == app_id for i in b["items"]), department="amr"
                )
            [item] = [i for i in board["items"] if i["application_id"] == app_id]
            calendar = settings.working_calendar()
            due = datetime.fromisoformat(item["due_at"])
            dispatched = datetime.fromisoformat(item["dispatched_at"])
            start = calendar.to_local(calendar.next_working_start(dispatched))
            monkeypatch.setattr(supervision, "board_now", lambda: start)  # the task was just dispatched

            supervisor = await person(browser, api, "supervisor")
            page = BoardPage(supervisor.page)
            await page.open()
            row = page.task(app_id, "amr")
            await expect(row).to_have_attribute("data-sla", "on_track")
            await shot(supervisor.page, "board-on-track")
            assert await serious_violations(supervisor.page) == []

            # 90 % of its working time gone: at risk, on the open page (it updates itself)
            monkeypatch.setattr(supervision, "board_now", lambda: calendar.add_working_minutes(start, 108))
            await expect(row).to_have_attribute("data-sla", "at_risk", timeout=15_000)
            await expect(row).to_contain_text("临近时限")
            await shot(supervisor.page, "board-at-risk")

            # past its due instant: breached
            monkeypatch.setattr(supervision, "board_now", lambda: due + timedelta(minutes=1))
            await expect(row).to_have_attribute("data-sla", "breached", timeout=15_000)
            await expect(row).to_contain_text("已超时")
            await shot(supervisor.page, "board")

            # filters by department and window
            await supervisor.page.get_by_label("部门", exact=True).select_option("tax")
            await supervisor.page.wait_for_url("**department=tax**")
            await expect(page.task(app_id, "amr")).to_have_count(0)
            await supervisor.page.goto("/board?window=TY-XD-02")
            await expect(page.task(app_id, "amr")).to_have_count(0)
            await supervisor.page.goto("/board?window=TY-XD-01")
            await expect(page.task(app_id, "amr")).to_have_count(1)

            # the wall layout at 1920×1080
            await page.open(wall=True)
            await supervisor.page.set_viewport_size(WALL)
            await expect(page.task(app_id, "amr")).to_have_attribute("data-sla", "breached")
            await expect(supervisor.page.locator("#fig-received")).to_have_text("1")
            await shot(supervisor.page, "board-wall", WALL)
            assert await serious_violations(supervisor.page) == []
            assert supervisor.problems == []
            await supervisor.close()

            # the department's inbox: its task with receipt and due instant
            amr = await person(browser, api, "dept-amr")
            await expect(amr.page.get_by_role("heading", name="市场监督管理局 · 待办事项")).to_be_visible()
            await expect(amr.page.locator("table")).to_contain_text(app_id)
            await expect(amr.page.locator("table")).to_contain_text(sample_json["company"]["name"])
            await shot(amr.page, "inbox")
            assert await serious_violations(amr.page) == []
            await amr.page.goto("/departments/tax/inbox")  # another department's inbox: refused
            await expect(amr.page.locator(".alert")).to_contain_text("只能查看本部门的待办事项")
            await amr.page.goto("/board")
            await expect(amr.page.locator(".alert")).to_contain_text("督办看板仅供督办人员")
            await amr.close()
            await dev_env.client.get_workflow_handle(app_id).terminate("test over")
