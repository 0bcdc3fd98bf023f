"""The floor for a robot task: a bare Playwright script filing one amr application.

Written directly with ``page.fill`` / ``select_option`` / ``click`` against the amr portal's
element ids, with no page objects, no search for an earlier submission, no step checks, no
heartbeats, no tracing: log in, open the wizard, fill the three steps, pass the materials page (none given), confirm,
read the 受理号. It is what a one-off script would do; the robot (``bots.flows.dispatch``) is
measured against it in ``bench.robot``.
"""

from __future__ import annotations

import re
from decimal import Decimal

from playwright.async_api import Browser

from bots.mappings import CONTRIBUTION_METHODS, SHAREHOLDER_KINDS
from domain.labels import ENTITY_LABELS as ENTITY_TYPES
from domain.labels import LEGAL_REP_ROLE_LABELS as LEGAL_REP_ROLES
from domain.requests import DepartmentRequest

_AFTER_STEP_3 = re.compile(r".*/apply/(attachments|confirm)$")


def _plain(amount: Decimal) -> str:
    return format(Decimal(amount).normalize(), "f")


async def file_amr(browser: Browser, base_url: str, username: str, password: str, request: DepartmentRequest) -> str:
    """File ``request`` at the amr portal in a fresh context; returns the receipt number."""
    a = request.application
    c = a.company
    context = await browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai", service_workers="block")
    try:
        page = await context.new_page()
        await page.goto(f"{base_url}/login?next=/apply")
        await page.fill("#username", username)
        await page.fill("#password", password)
        await page.click("button[type=submit]")
        await page.wait_for_url("**/apply/step/1")

        # step 1: 企业基本信息
        await page.fill("#external_ref", request.application_id)
        await page.fill("#company_name", c.name)
        await page.select_option("#entity_type", label=ENTITY_TYPES[c.entity_type])
        await page.fill("#registered_capital", _plain(c.registered_capital_wan_yuan))
        await page.fill("#division_code", c.address.division_code)
        await page.fill("#address_detail", c.address.detail)
        await page.fill("#business_scope", "；".join(c.business_scope))
        await page.fill("#operating_term_years", str(c.operating_term_years) if c.operating_term_years else "")
        await page.fill("#shareholder_count", str(len(a.shareholders)))
        await page.click("button[type=submit]")
        await page.wait_for_url("**/apply/step/2")

        # step 2: 主要人员信息
        for prefix, person in (
            ("legal_rep", a.legal_representative),
            ("supervisor", a.supervisor),
            ("financial_officer", a.financial_officer),
            ("liaison", a.liaison),
        ):
            await page.fill(f"#{prefix}_name", person.name)
            await page.fill(f"#{prefix}_id_number", person.id_number)
            await page.fill(f"#{prefix}_mobile", person.mobile)
        await page.select_option("#legal_rep_role", label=LEGAL_REP_ROLES[a.legal_representative.role])
        await page.click("button[type=submit]")
        await page.wait_for_url("**/apply/step/3")

        # step 3: 股东（发起人）出资信息
        for i, sh in enumerate(a.shareholders, 1):
            p = f"#shareholders-{i}-"
            await page.select_option(p + "kind", label=SHAREHOLDER_KINDS[sh.kind])
            await page.fill(p + "name", sh.name)
            await page.fill(p + "id_number", sh.id_number if sh.kind == "natural_person" else sh.uscc)
            await page.fill(p + "contribution", _plain(sh.contribution_wan_yuan))
            await page.select_option(p + "method", label=CONTRIBUTION_METHODS[sh.contribution_method])
            await page.fill(p + "deadline", sh.contribution_deadline.isoformat())
        await page.click("button[type=submit]")
        await page.wait_for_url(_AFTER_STEP_3)
        if page.url.endswith("/apply/attachments"):  # 上传申请材料: none to give here (nor does the robot have any)
            await page.click("button[type=submit]")
            await page.wait_for_url("**/apply/confirm")

        await page.click("button[type=submit]")
        await page.wait_for_url("**/receipt/*")
        return (await page.text_content("[data-field=receipt_no]") or "").strip()
    finally:
        await context.close()
