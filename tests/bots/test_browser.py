"""The browser pool: finding Chromium, launch flags, one fresh context per task, a bounded number of sessions."""

from __future__ import annotations

import asyncio
import os
import stat

import pytest

from bots import chromium
from bots.browser import BrowserNotFound, BrowserPool, find_chromium, launch_args


def test_find_chromium_prefers_the_configured_path(tmp_path, monkeypatch):
    fake = tmp_path / "my-chrome"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("KAIBAN_CHROMIUM_PATH", str(fake))
    assert find_chromium() == str(fake)
    # a configured path that does not exist is skipped, not returned
    monkeypatch.setenv("KAIBAN_CHROMIUM_PATH", str(tmp_path / "missing"))
    assert find_chromium() not in (None, str(tmp_path / "missing"))


def test_find_chromium_reports_none_when_nothing_is_installed(tmp_path, monkeypatch):
    monkeypatch.delenv("KAIBAN_CHROMIUM_PATH", raising=False)
    monkeypatch.setenv("PLAYWRIGHT_BROWSERS_PATH", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(chromium, "_SYSTEM_CANDIDATES", ())
    monkeypatch.setattr(chromium, "_SYSTEM_SHELLS", ())
    assert find_chromium() is None
    # Playwright's own browser cache is looked into, without launching anything
    bundled = _executable(tmp_path / "chromium-1200" / "chrome-linux" / "chrome")
    assert find_chromium() == str(bundled)


def _executable(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("")
    path.chmod(0o755)
    return path


def test_a_headless_robot_drives_a_headless_shell_and_a_headed_one_the_full_browser(tmp_path, monkeypatch):
    monkeypatch.delenv("KAIBAN_CHROMIUM_PATH", raising=False)
    monkeypatch.setenv("PLAYWRIGHT_BROWSERS_PATH", str(tmp_path / "cache"))
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    full = _executable(tmp_path / "usr" / "chromium")
    shell = _executable(tmp_path / "usr" / "chromium-headless-shell")
    monkeypatch.setattr(chromium, "_SYSTEM_CANDIDATES", (str(full),))
    monkeypatch.setattr(chromium, "_SYSTEM_SHELLS", (str(shell),))
    assert find_chromium() == str(shell)
    assert find_chromium(headless=False) == str(full)
    # Playwright's own headless shell comes first, its full Chromium before the system's
    bundled_shell = _executable(
        tmp_path / "cache" / "chromium_headless_shell-1200" / "chrome-headless-shell-linux64" / "chrome-headless-shell"
    )
    bundled_full = _executable(tmp_path / "cache" / "chromium-1200" / "chrome-linux64" / "chrome")
    assert find_chromium() == str(bundled_shell)
    assert find_chromium(headless=False) == str(bundled_full)
    # the configured path wins either way
    monkeypatch.setenv("KAIBAN_CHROMIUM_PATH", str(full))
    assert find_chromium() == str(full)


def test_launch_args():
    args = launch_args()
    for flag in (
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-gpu",
        "--no-first-run",
    ):
        assert flag in args
    assert ("--no-sandbox" in args) == (os.geteuid() == 0)


async def test_a_missing_chromium_is_a_clear_error(tmp_path):
    pool = BrowserPool(executable_path=str(tmp_path / "no-such-chromium"))
    with pytest.raises(BrowserNotFound, match="does not exist"):
        await pool.start()
    await pool.stop()


async def test_sessions_are_bounded_and_isolated(browser_pool):
    assert browser_pool.max_sessions == 2
    first, second, third = browser_pool.page(), browser_pool.page(), browser_pool.page()
    p1 = await first.__aenter__()
    p2 = await second.__aenter__()
    await p1.context.add_cookies([{"name": "sid", "value": "one", "url": "http://127.0.0.1/"}])
    assert await p2.context.cookies() == []  # a fresh context per task
    waiting = asyncio.create_task(third.__aenter__())
    await asyncio.sleep(0.3)
    assert not waiting.done()  # the third session waits for a free slot
    await first.__aexit__(None, None, None)
    assert p1.is_closed()
    p3 = await asyncio.wait_for(waiting, 10)
    assert await p3.context.cookies() == []
    await second.__aexit__(None, None, None)
    await third.__aexit__(None, None, None)
    assert p2.is_closed() and p3.is_closed()


async def test_a_browser_that_died_is_relaunched():
    async with BrowserPool(max_sessions=1) as pool:
        assert pool.launches == 1
        await pool._browser.close()  # as if Chromium crashed or was killed
        async with pool.page() as page:
            await page.set_content("<h1>还在</h1>")
            assert await page.get_by_role("heading").text_content() == "还在"
        assert pool.launches == 2


async def test_page_before_start_is_refused():
    pool = BrowserPool()
    with pytest.raises(RuntimeError, match="start"):
        async with pool.page():
            pass
