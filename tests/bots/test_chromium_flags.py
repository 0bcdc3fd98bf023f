"""The one ``--disable-features`` switch: Playwright's list, repeated, and kaiban's (RenderDocument).

Chromium honours only the last ``--disable-features`` on its command line, and Playwright passes one of its
own; ``bots.chromium`` repeats Playwright's list in its own switch. These tests read the command line the
browser process really got (``/proc/<pid>/cmdline``, found by a marker switch Chromium ignores), so an upgrade
of Playwright that changes its list fails here instead of silently dropping a feature Playwright turns off.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from playwright.async_api import async_playwright

from bots import chromium
from bots.browser import BrowserPool

PREFIX = "--disable-features="
pytestmark = pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="reads /proc")


def _browser_command_lines(marker: str) -> list[list[str]]:
    """The command lines of the browser processes (no ``--type=``) started with ``marker``."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            args = [a.decode() for a in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0") if a]
        except OSError:
            continue
        if marker in args and not any(a.startswith("--type=") for a in args):
            found.append(args)
    return found


def _found(marker: str) -> list[list[str]]:
    lines = _browser_command_lines(marker)
    assert lines, "the browser process was not found"
    return lines


def _features(args: list[str]) -> list[list[str]]:
    return [a[len(PREFIX) :].split(",") for a in args if a.startswith(PREFIX)]


async def test_playwrights_own_list_is_the_one_kaiban_repeats():
    marker = f"--kaiban-probe={uuid.uuid4().hex}"
    plain = [a for a in chromium.launch_args() if not a.startswith(PREFIX)] + [marker]
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium.find_chromium(pw), args=plain)
        try:
            lines = _found(marker)
        finally:
            await browser.close()
    for args in lines:
        (playwrights,) = _features(args)  # Playwright's alone
        assert set(playwrights) == set(chromium.PLAYWRIGHT_DISABLED_FEATURES), (
            "Playwright's --disable-features list changed: update bots.chromium.PLAYWRIGHT_DISABLED_FEATURES"
        )


async def test_the_pools_browser_gets_playwrights_features_and_kaibans_in_its_last_switch(monkeypatch):
    marker = f"--kaiban-probe={uuid.uuid4().hex}"
    real = chromium.launch_args
    monkeypatch.setattr("bots.browser.launch_args", lambda: [*real(), marker])
    pool = BrowserPool(max_sessions=1)
    await pool.start()
    try:
        lines = _found(marker)
    finally:
        await pool.stop()
    for args in lines:
        last = set(_features(args)[-1])  # the one Chromium honours
        assert {"RenderDocument", *chromium.PLAYWRIGHT_DISABLED_FEATURES} <= last
