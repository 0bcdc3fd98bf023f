"""The clerk's actions in Chromium: a rejected task corrected from the page, a task a robot could not
finish completed by hand from the page; and what must not happen: markup running, another window's
application showing, a department reading a window's application."""

from __future__ import annotations

import copy

from playwright.async_api import expect

from cli.worker import running_workers
from tests.e2e.conftest import e2e_settings, running_api, running_departments, running_stack
from tests.e2e.pages.conftest import person, serious_violations, shot
from tests.e2e.pages.pages import ApplicationPage, FormPage


async def submit_through_the_form(clerk, application: dict) -> ApplicationPage:
    form = FormPage(clerk.page)
    await form.open_new()
    await form.fill(application)
    await form.submit()
    await clerk.page.wait_for_url("**/applications/KB*")
    return ApplicationPage(clerk.page)


async def test_a_rejected_task_is_corrected_from_the_page(dev_env, tmp_path, sample_json, browser):
    async with running_stack(dev_env, tmp_path) as (api, _departments, _settings):
        clerk = await person(browser, api, "clerk")
        rejected = copy.deepcopy(sample_json)
        rejected["company"]["name"] = "太原测试驳回科技有限公司"  # amr answers 名称重复
        view = await submit_through_the_form(clerk, rejected)
        await view.wait_status("amr", "rejected", timeout_s=120)
        await expect(view.department("amr")).to_contain_text("名称重复")
        correct = clerk.page.get_by_role("link", name="补正申请表")  # the page loads again with its new action
        await expect(correct).to_be_visible(timeout=20_000)
        await correct.click()
        form = FormPage(clerk.page)
        await expect(clerk.page.get_by_role("heading", name=f"补正申请 {view.application_id}")).to_be_visible()
        await expect(form.field("company.name")).to_have_value("太原测试驳回科技有限公司")  # pre-filled
        await expect(form.field("company.name")).to_be_editable()  # what amr (rejected) uses may change
        await expect(form.field("bank_account.branch_name")).not_to_be_editable()  # amr does not use it
        await shot(clerk.page, "correction")
        assert await serious_violations(clerk.page) == []
        await form.fill_value("company.name", sample_json["company"]["name"])
        await form.submit()
        await clerk.page.wait_for_url(f"**/applications/{view.application_id}?done=corrected")
        await view.wait_application("completed", timeout_s=240)
        await clerk.page.reload()
        await expect(clerk.page.locator("h1")).to_contain_text(sample_json["company"]["name"])
        await expect(view.department("amr")).to_contain_text("第 2 轮")
        assert clerk.problems == []
        await clerk.close()


async def test_a_task_the_robot_could_not_finish_is_completed_by_hand_from_the_page(
    dev_env, tmp_path, sample_json, browser
):
    async with running_departments(tmp_path) as departments:
        # the hpf "portal" answers with a page of another system: the robot gives the task to a person
        urls = {**departments.urls, "hpf": departments.urls["tax"]}
        settings = e2e_settings(departments, tmp_path, department_urls=urls)
        async with running_workers(dev_env.client, settings), running_api(settings, dev_env.client) as api:
            clerk = await person(browser, api, "clerk")
            view = await submit_through_the_form(clerk, sample_json)
            await view.wait_status("hpf", "manual", timeout_s=180)
            action = clerk.page.locator("details.action", has_text="人工办结：住房公积金管理中心")
            await expect(action).to_be_visible(timeout=20_000)  # the page loads again with its new action
            await clerk.page.wait_for_load_state("load")
            await expect(view.department("hpf").get_by_role("link", name="失败截图")).to_be_visible()
            shot_link = await view.department("hpf").get_by_role("link", name="失败截图").get_attribute("href")
            evidence = await clerk.page.request.get(shot_link)
            assert evidence.status == 200 and (await evidence.body()).startswith(b"\x89PNG")
            # a first attempt keeps no trace, but the page's HTML and the robot's steps, served as downloads
            for name in ("失败页面", "操作步骤记录"):
                link = await view.department("hpf").get_by_role("link", name=name).get_attribute("href")
                kept = await clerk.page.request.get(link)
                assert kept.status == 200 and kept.headers["content-disposition"].startswith("attachment")
            await shot(clerk.page, "manual-task")
            assert await serious_violations(clerk.page) == []
            await action.get_by_label("住房公积金单位账号").fill("1401000199999999")
            await action.get_by_label("说明（可选）").fill("公积金中心柜台办理")
            await action.get_by_role("button", name="确认人工办结").click()
            await clerk.page.wait_for_url("**done=manual")
            await expect(clerk.page.get_by_role("status").first).to_contain_text("已录入人工办结结果")
            await view.wait_application("completed", timeout_s=240)
            await expect(view.department("hpf")).to_contain_text("1401000199999999")
            await expect(view.department("hpf")).to_contain_text("clerk-0007")
            assert clerk.problems == []
            await clerk.close()


async def test_markup_is_text_and_other_windows_see_nothing(dev_env, tmp_path, sample_json, browser):
    async with running_departments(tmp_path, process_delay_s=3600) as departments:
        settings = e2e_settings(departments, tmp_path)
        async with running_workers(dev_env.client, settings), running_api(settings, dev_env.client) as api:
            clerk = await person(browser, api, "clerk")
            marked = copy.deepcopy(sample_json)
            marked["company"]["name"] = '太原<img src=x onerror="window.__pwned=1">晋创科技有限公司'
            marked["company"]["address"]["detail"] = "清源镇<script>window.__pwned=2</script>文源路 18 号"
            marked["legal_representative"]["name"] = "王𬱖"  # a rare character (U+2CC56) round-trips
            view = await submit_through_the_form(clerk, marked)
            heading = clerk.page.locator("h1")
            await expect(heading).to_contain_text('<img src=x onerror="window.__pwned=1">')  # shown as text
            assert await heading.locator("img").count() == 0
            address = clerk.page.locator("dd.address")
            await expect(address).to_have_text("清源镇<script>window.__pwned=2</script>文源路 18 号")  # as text
            assert await address.locator("script").count() == 0
            assert await clerk.page.evaluate("window.__pwned === undefined")
            await shot(clerk.page, "markup-as-text")
            app_id = view.application_id

            # the list of the window shows it (as text too); the correction form keeps the rare character
            await clerk.page.goto("/applications")
            await expect(clerk.page.locator("table")).to_contain_text("晋创科技有限公司")
            assert await clerk.page.locator("table img").count() == 0
            assert await serious_violations(clerk.page) == []
            assert clerk.problems == []
            await clerk.close()

            other = await person(browser, api, "clerk-b")  # window TY-XD-02: the application does not exist
            for path in (
                f"/applications/{app_id}",
                f"/applications/{app_id}/correction",
                f"/applications/{app_id}/notice",
            ):
                response = await other.page.goto(path)
                assert response.status == 404, path
                await expect(other.page.locator(".alert")).to_contain_text("未找到申请")
            await shot(other.page, "other-window-404")
            assert await serious_violations(other.page) == []
            r = await other.page.request.post(f"/applications/{app_id}/withdrawal", form={"reason": "x"})
            assert r.status == 403  # without the session's CSRF token nothing is even looked up
            await other.close()

            department = await person(browser, api, "dept-tax")
            response = await department.page.goto(f"/applications/{app_id}")
            assert response.status == 403
            await department.close()

            supervisor = await person(browser, api, "supervisor")
            await supervisor.page.goto(f"/applications/{app_id}")
            await expect(supervisor.page.locator("h1")).to_contain_text("晋创科技有限公司")
            await expect(supervisor.page.get_by_role("heading", name="可办理的操作")).to_have_count(0)  # reads only
            await supervisor.close()
            await dev_env.client.get_workflow_handle(app_id).terminate("test over")
