"""Page tests in a real Chromium against the whole stack (tests/e2e/conftest.py): a browser for the
session, a logged-in page per person, accessibility checks with axe-core, screenshots as artifacts."""

from __future__ import annotations

import os
from pathlib import Path

import pytest_asyncio
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, Page, async_playwright

from bots.browser import find_chromium, launch_args
from runtime.people import DEV_PASSWORD

ROOT = Path(__file__).resolve().parents[3]
#: where the screenshots go (a CI job keeps this directory): KAIBAN_TEST_ARTIFACTS or data/test-artifacts
ARTIFACTS = Path(os.environ.get("KAIBAN_TEST_ARTIFACTS", ROOT / "data" / "test-artifacts")) / "pages"
DESKTOP = {"width": 1366, "height": 768}
WALL = {"width": 1920, "height": 1080}


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser():
    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=find_chromium(pw), args=launch_args(), headless=True)
        yield chromium
        await chromium.close()


class Person:
    """One person's browser context, signed in; what went wrong in the page is collected."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.problems: list[str] = []
        page.on("pageerror", lambda exc: self.problems.append(f"page error: {exc}"))
        page.on(
            "console",
            lambda msg: (
                self.problems.append(msg.text)
                if msg.type == "error" and "Content Security Policy" in msg.text
                else None
            ),
        )

    async def close(self) -> None:
        await self.page.context.close()


async def person(browser: Browser, base_url: str, username: str | None, viewport: dict | None = None) -> Person:
    context = await browser.new_context(
        base_url=base_url, viewport=viewport or DESKTOP, locale="zh-CN", timezone_id="Asia/Shanghai"
    )
    context.set_default_timeout(15_000)
    who = Person(await context.new_page())
    if username:
        await sign_in(who.page, username)
    return who


async def sign_in(page: Page, username: str, password: str = DEV_PASSWORD) -> None:
    await page.goto("/login")
    await page.get_by_label("用户名").fill(username)
    await page.get_by_label("密码").fill(password)
    await page.get_by_role("button", name="登录").click()
    await page.wait_for_url(lambda url: "/login" not in url)


async def shot(page: Page, name: str, viewport: dict | None = None) -> Path:
    """A screenshot of the page at 1366×768 (or ``viewport``) into the artifacts directory."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    if viewport:
        await page.set_viewport_size(viewport)
    path = ARTIFACTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=False)
    return path


async def serious_violations(page: Page) -> list[str]:
    """What axe-core finds of impact serious or critical on the page as it is now."""
    results = await Axe().run(page)
    found = results.response.get("violations", [])
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in found
        if v.get("impact") in ("serious", "critical")
    ]
