"""The base of every page object: reading the page, checking landmarks, moving, entering values.

Every Playwright call goes through :class:`~bots.errors.playwright_errors`, so what leaves a
page object is a :class:`~bots.errors.PortalError` (see bots/README.md).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from playwright.async_api import Locator, Page, Response

from bots.errors import BusinessRejection, PortalChanged, PortalUnavailable, SessionExpired, playwright_errors
from bots.press import Aim, Role, aim
from bots.snapshot import LOGIN_HEADING, SNAPSHOT_JS, Snapshot
from runtime.http import retry_after_s

__all__ = ["MAX_INLINE_WAIT_S", "PAGE_RETRY_PAUSES_S", "FieldValue", "PortalPage"]

FieldValue = str | bool

# Pauses before loading a page again that the portal answered with a 5xx (GETs only: loading a page
# again changes nothing); then the attempt fails and Temporal's retry policy takes over.
PAGE_RETRY_PAUSES_S = (0.5, 1.5)
MAX_INLINE_WAIT_S = 5.0  # a portal asking for a longer wait (Retry-After) is not waited for here


def _log() -> structlog.typing.FilteringBoundLogger:
    # Looked up at call time, so a logging configuration made later (or capture_logs) is honoured.
    return structlog.get_logger(__name__)


class PortalPage:
    """Base of every page object: navigation with error mapping, landmark checks."""

    HEADING: str = ""

    def __init__(self, page: Page, snapshot: Snapshot | None = None) -> None:
        self.page = page
        self.snap = snapshot

    # --- reading -------------------------------------------------------------------

    async def snapshot(self) -> Snapshot:
        with playwright_errors("reading the page"):
            raw = await self.page.evaluate(SNAPSHOT_JS)
        self.snap = Snapshot.from_js(raw)
        return self.snap

    def expect_landmarks(
        self, *, heading: str | None = None, labels: tuple[str, ...] = (), buttons: tuple[str, ...] = ()
    ) -> Snapshot:
        """Check that we are on the expected page; raise SessionExpired / PortalChanged otherwise."""
        snap = self.snap
        if snap is None:
            raise PortalChanged("page not read yet")
        heading = self.HEADING if heading is None else heading
        if snap.is_login and heading != LOGIN_HEADING:
            raise SessionExpired(f"expected page {heading!r} but the portal shows its login page")
        if heading and heading not in snap.main_heading:
            raise PortalChanged(f"expected page {heading!r}, found {snap.main_heading or 'no heading'!r} at {snap.url}")
        missing = [label for label in labels if label not in snap.labels]
        missing += [f"button {b}" for b in buttons if b not in snap.buttons]
        if missing:
            raise PortalChanged(f"page {heading!r} lacks {', '.join(missing)}")
        return snap

    def field(self, label: str) -> Locator:
        """The control labelled ``label`` (checked first against the snapshot: PortalChanged when absent)."""
        assert self.snap is not None
        if label not in self.snap.labels:
            raise PortalChanged(f"field {label!r} not found on page {self.snap.main_heading!r}")
        return self.page.get_by_label(label, exact=True)

    # --- moving ----------------------------------------------------------------------

    @staticmethod
    def _check_response(response: Response | None, what: str) -> None:
        if response is None:
            return
        if response.status >= 500 or response.status == 429:
            retry_after = retry_after_s(response.headers.get("retry-after"))
            detail = f", Retry-After {retry_after:g} s" if retry_after is not None else ""
            raise PortalUnavailable(f"{what}: HTTP {response.status}{detail}", retry_after_s=retry_after)
        if response.status in (404, 405, 410):
            raise PortalChanged(f"{what}: HTTP {response.status} at {response.url}")

    @staticmethod
    async def _pause_before_reload(exc: PortalUnavailable, pause: float | None, what: str) -> None:
        """Wait ``pause`` before loading a page again, or raise ``exc`` when there is no pause left or
        the portal asked for a longer wait than is worth waiting here."""
        if pause is None or (exc.retry_after_s or 0) > MAX_INLINE_WAIT_S:
            raise exc
        _log().info("robot.page_reloaded", what=what, error=str(exc), pause_s=pause)
        await asyncio.sleep(pause)

    async def _goto(self, url: str, what: str) -> Snapshot:
        """Load a page (a GET: loading it again changes nothing). A 5xx answer is loaded again after a
        short pause, at most ``len(PAGE_RETRY_PAUSES_S)`` times, as a clerk would press F5; a portal
        that stays down, or asks for a longer wait (maintenance), is left to the activity's retry policy."""
        for pause in (*PAGE_RETRY_PAUSES_S, None):
            with playwright_errors(what):
                response = await self.page.goto(url, wait_until="domcontentloaded")
            try:
                self._check_response(response, what)
            except PortalUnavailable as exc:
                await self._pause_before_reload(exc, pause, what)
                continue
            return await self.snapshot()
        raise AssertionError("unreachable")

    async def _navigate(self, action: Callable[[], Awaitable[Any]], what: str) -> Snapshot:
        """Run ``action`` (a click) and wait for the document it leads to."""
        with playwright_errors(what):
            async with self.page.expect_navigation(wait_until="domcontentloaded") as nav:
                await action()
            response = await nav.value
        self._check_response(response, what)
        return await self.snapshot()

    async def _click(
        self, fallback: Locator, role: Role, name: str, *, within: str | None = None, aimed: Aim | None = None
    ) -> tuple[Callable[[], Awaitable[Any]], str | None]:
        """How to click the control ``role`` named ``name``: a mouse click at it where ``bots.press.aim``
        found it (one page round trip, no injected script; ``aimed``: found already, in the trip that filled the
        form), else ``fallback``'s click (Playwright's checks). Also the control's address when it is a link
        (None when unknown)."""
        target = aimed
        if target is None:
            with playwright_errors(f"finding {name!r}"):
                target = await aim(self.page, role, name, within)
        if target is None:
            return fallback.click, None
        return functools.partial(self.page.mouse.click, target.x, target.y), target.href

    async def _post(
        self, button: Locator, what: str, *, logged_out: str, name: str | None = None, aimed: Aim | None = None
    ) -> Snapshot:
        """Click a form's ``button`` (found by its ``name`` when given, or at ``aimed``: ``_click``) and read the
        answer: SessionExpired when the portal logged the robot out (``logged_out`` says when), BusinessRejection
        with its messages when it refused the data."""
        action = (await self._click(button, "button", name, aimed=aimed))[0] if name else button.click
        snap = await self._navigate(action, what)
        if snap.is_login:
            raise SessionExpired(f"the portal logged the robot out {logged_out}")
        if snap.alerts:
            raise BusinessRejection("; ".join(snap.alerts))
        return snap

    async def _set(self, label: str, value: FieldValue) -> None:
        """Enter one value in the control labelled ``label`` (text, select by option label, checkbox)."""
        locator = self.field(label)
        assert self.snap is not None
        control = self.snap.labels[label]
        with playwright_errors(f"entering {label!r}"):
            if control.is_checkable:
                if control.checked != bool(value):  # a click costs more than a look
                    await locator.set_checked(bool(value))
            elif control.tag == "select":
                if value == "":
                    await locator.select_option(value="")
                    return
                if control.options is not None and value not in control.options:
                    raise PortalChanged(f"field {label!r} offers no option {value!r}")
                await locator.select_option(label=str(value))
            else:
                await locator.fill(str(value))
