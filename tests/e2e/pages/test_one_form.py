"""The clerk in Chromium: signs in, fills the one form for the sample (the server's messages beside the
fields as they are left and on submit), submits, and watches all seven departments complete on the
application page; then prints the completion notice as a PDF."""

from __future__ import annotations

import copy

from playwright.async_api import expect

from tests.e2e.conftest import running_stack
from tests.e2e.pages.conftest import person, serious_violations, shot
from tests.e2e.pages.pages import ApplicationPage, FormPage

DEPARTMENTS = ("amr", "psb_seal", "tax", "hrss", "nhsa", "hpf", "bank")


async def test_a_clerk_fills_the_one_form_and_sees_every_department_complete(dev_env, tmp_path, sample_json, browser):
    async with running_stack(dev_env, tmp_path) as (api, departments, _settings):
        anonymous = await person(browser, api, None)
        await anonymous.page.goto("/login")
        await shot(anonymous.page, "login")
        assert await serious_violations(anonymous.page) == []
        await anonymous.close()

        clerk = await person(browser, api, "clerk")
        page = clerk.page
        form = FormPage(page)
        await form.open_new()
        assert await serious_violations(page) == []

        # a mistake, shown beside its field as the clerk leaves it (the server's message)
        wrong = copy.deepcopy(sample_json)
        wrong["legal_representative"]["id_number"] = "140121198704150214"  # check digit off by one
        await form.fill(wrong)
        await form.leave("legal_representative.id_number")
        await expect(form.message("legal_representative.id_number")).to_contain_text("校验位不正确")
        assert await form.message("supervisor.id_number").text_content() == ""  # untouched fields stay quiet

        # a rule over several fields marks each of them on submit
        await form.fill_value("legal_representative.id_number", sample_json["legal_representative"]["id_number"])
        await form.fill_value("shareholders.1.contribution_wan_yuan", "30")
        await form.submit()
        await expect(form.summary).to_contain_text("申请表有 1 处需要修改")
        for path in (
            "company.registered_capital_wan_yuan",
            "shareholders.0.contribution_wan_yuan",
            "shareholders.1.contribution_wan_yuan",
        ):
            await expect(form.message(path)).to_contain_text("与注册资本 100 万元不一致")
        await expect(form.message("legal_representative.id_number")).to_have_text("")
        await shot(page, "form-messages")

        # the draft is kept: a reload brings the clerk's entries back
        await page.reload()
        await expect(form.field("shareholders.1.contribution_wan_yuan")).to_have_value("30")
        await expect(form.field("company.name")).to_have_value(sample_json["company"]["name"])

        await form.fill_value("shareholders.1.contribution_wan_yuan", "40")
        await page.evaluate("window.scrollTo(0, 0)")
        await shot(page, "form")
        await form.submit()
        await page.wait_for_url("**/applications/KB*")
        view = ApplicationPage(page)
        await expect(page.locator("#promised")).not_to_be_empty()
        await view.wait_application("completed", timeout_s=240)
        for code in DEPARTMENTS:
            await expect(view.status_of(code)).to_have_attribute("data-status", "completed")
        await page.reload()
        await expect(page.get_by_role("link", name="下载开办结果告知单（PDF）")).to_be_visible()
        await shot(page, "application-completed")
        assert await serious_violations(page) == []
        app_id = view.application_id
        for code in DEPARTMENTS:
            assert departments.count(code, app_id) == 1, code

        # the completion notice: a PDF printed by Chromium, every result on it
        pdf = await page.request.get(f"/applications/{app_id}/notice.pdf")
        assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf"
        body = await pdf.body()
        assert body.startswith(b"%PDF") and len(body) > 5000
        await page.goto(f"/applications/{app_id}/notice")
        await expect(page.get_by_role("heading", name="企业开办结果告知单")).to_be_visible()
        await expect(page.locator("table.results")).to_contain_text("统一社会信用代码")
        await shot(page, "completion-notice")
        assert await serious_violations(page) == []
        assert clerk.problems == []
        await clerk.close()
