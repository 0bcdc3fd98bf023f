"""Page objects of kaiban's pages (Playwright's page object model): locators by role, label and the
contract's field names, methods named as what the person does."""

from __future__ import annotations

import re
from typing import Any

from playwright.async_api import Page, expect

ROWS = {"shareholders": "添加股东", "social_insurance.enroll_employees": "添加参保职工", "materials": "添加材料"}


class FormPage:
    def __init__(self, page: Page) -> None:
        self.page = page
        self.submit_button = page.get_by_role("button", name=re.compile("提交"))
        self.summary = page.locator("#form-summary")

    def field(self, path: str):
        return self.page.locator(f'[name="{path}"]')

    def message(self, path: str):
        return self.page.locator(f'.field[data-path="{path}"] > .error')

    async def open_new(self) -> None:
        await self.page.goto("/applications/new")
        await expect(self.page.get_by_role("heading", name="一表申请（企业开办）")).to_be_visible()

    async def fill_value(self, path: str, value: Any) -> None:
        el = self.field(path)
        if isinstance(value, bool):
            await el.set_checked(value)
            return
        if isinstance(value, list):  # lines (business scope) or a set of checkboxes
            if await el.first.get_attribute("data-kind") == "set":
                for box in await el.all():
                    await box.set_checked(await box.get_attribute("value") in value)
            else:
                await el.fill("\n".join(value))
            return
        text = "" if value is None else str(value)
        if await el.get_attribute("type") == "hidden":  # fixed by the form (the account type)
            return
        if await el.evaluate("e => e.tagName") == "SELECT":
            await el.select_option(text)
        else:
            await el.fill(text)

    async def fill(self, data: dict, prefix: str = "") -> None:
        """Fill the form with an application (the contract's JSON), adding rows as the lists need."""
        for key, value in data.items():
            path = f"{prefix}{key}"
            if path == "window":
                continue
            if path in ROWS:
                rows = self.page.locator(f'.rows[data-rows="{path}"] > .row')
                while await rows.count() < len(value):
                    await self.page.get_by_role("button", name=ROWS[path]).click()
                for i, row in enumerate(value):
                    await self.fill(row, f"{path}.{i}.")
            elif isinstance(value, dict):
                await self.fill(value, f"{path}.")
            else:
                await self.fill_value(path, value)

    async def leave(self, path: str) -> None:
        await self.field(path).blur()

    async def submit(self) -> None:
        await self.submit_button.click()


class ApplicationPage:
    def __init__(self, page: Page) -> None:
        self.page = page

    def department(self, code: str):
        return self.page.locator(f"#dept-{code}")

    def status_of(self, code: str):
        return self.department(code).locator("[data-status]")

    async def wait_status(self, code: str, status: str, timeout_s: float = 180) -> None:
        await expect(self.status_of(code)).to_have_attribute("data-status", status, timeout=timeout_s * 1000)

    async def wait_application(self, status: str, timeout_s: float = 180) -> None:
        await expect(self.page.locator("#live-state")).to_have_attribute(
            "data-status", status, timeout=timeout_s * 1000
        )

    @property
    def application_id(self) -> str:
        return self.page.url.split("/applications/")[1].split("?")[0].split("/")[0]


class BoardPage:
    def __init__(self, page: Page) -> None:
        self.page = page

    def task(self, application_id: str, department: str):
        return self.page.locator(f'tr.task[data-application="{application_id}"][data-department="{department}"]')

    async def open(self, wall: bool = False) -> None:
        await self.page.goto("/board?wall=true" if wall else "/board")
        await expect(self.page.get_by_role("heading", name=re.compile("督办看板"))).to_be_visible()
