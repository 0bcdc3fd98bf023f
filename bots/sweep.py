"""One sweep of a portal account's 我的办件 list: every case it shows, read as the per-task inquiry reads one.

:func:`sweep` logs in (a reused session skips that), opens the list from the main menu and reads it page by
page, newest first, until a case submitted before ``since`` (what the sweeper already knows), the last page
or ``max_pages``. Each case becomes a :class:`SweptCase` with the same :class:`~domain.results.Inquiry` that
:func:`bots.flows.inquire` gives for it (``flows.inquiry_of``: one reading). A row that cannot be read
(unknown status, unreadable result) is left out and counted: its task's own inquiry will say what it is.
:func:`next_since` is where the next sweep may stop. No temporalio here; the activity is
``activities/sweeps.py``.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog
from playwright.async_api import Page

from bots import evidence
from bots.errors import PortalChanged, SessionExpired, portal_errors
from bots.flows import FLOWS, PortalAccess, StepCallback, inquiry_of
from bots.pages import LoginPage, parse_time
from bots.sweep_page import MinePage
from domain.results import Inquiry

__all__ = ["DECIDED", "SweepResult", "SweptCase", "next_since", "sweep"]

log = structlog.get_logger()

DECIDED = ("completed", "rejected", "withdrawn")  # a case in these states has a result to tell
MAX_RELOGINS = 3  # logged out mid-sweep this often: the sweep fails (retried later)
PROGRESS_PATH = "/progress"  # a bookmark the login page leads to (bots.flows logs in the same way)


@dataclass(frozen=True)
class SweptCase:
    receipt_no: str
    application_id: str
    submitted_at: datetime | None
    decided_at: datetime | None
    inquiry: Inquiry

    @property
    def decided(self) -> bool:
        return self.inquiry.status in DECIDED


@dataclass(frozen=True)
class SweepResult:
    cases: list[SweptCase] = field(default_factory=list)  # newest first, each case once
    pages: int = 0
    complete: bool = True  # reached ``since`` or the list's last page (False: stopped at ``max_pages``)
    unreadable: int = 0  # rows left out (their tasks' own inquiries read them)

    @property
    def decided(self) -> list[SweptCase]:
        return [c for c in self.cases if c.decided]


async def _open_list(page: Page, access: PortalAccess, department: str) -> MinePage:
    evidence.register_secret(page, access.password)  # kept out of any trace of this session
    login = LoginPage(
        page, access.base_url, captcha_attempts=access.captcha_attempts, captcha_rules=FLOWS[department].captcha
    )
    await login.open(landing=PROGRESS_PATH)
    landing = await login.log_in(access.username, access.password)  # at once when the session is reused
    return await MinePage.open_from(landing)


def _case(department: str, record: dict[str, Any]) -> SweptCase:
    return SweptCase(
        receipt_no=record["receipt_no"],
        application_id=record.get("application_id") or "",
        submitted_at=parse_time(record.get("submitted_at")),
        decided_at=parse_time(record.get("decided_at")),
        inquiry=inquiry_of(department, record),
    )


async def sweep(
    page: Page,
    access: PortalAccess,
    department: str,
    *,
    since: datetime | None = None,
    max_pages: int = 10,
    on_step: StepCallback = None,
) -> SweepResult:
    """Read the account's 我的办件 list, newest first, down to the cases submitted before ``since``."""
    if department not in FLOWS:
        raise ValueError(f"no robot flow for department {department!r}; known: {', '.join(FLOWS)}")
    blog = log.bind(department=department)
    where = ["login"]
    seen: dict[str, SweptCase] = {}
    unreadable: set[str] = set()
    pages, complete, relogins = 0, False, 0

    async def step(name: str) -> None:
        where[0] = name
        if on_step is not None:
            outcome = on_step(name)
            if inspect.isawaitable(outcome):
                await outcome

    with portal_errors(department, lambda: where[0], blog):
        while True:
            try:
                await step("login")
                mine = await _open_list(page, access, department)
                number = 1
                while True:
                    await step(f"page:{number}")
                    reached = False
                    for record in mine.records:
                        try:
                            case = _case(department, record)
                        except PortalChanged as exc:
                            unreadable.add(record["receipt_no"])
                            blog.info("robot.sweep.unreadable", receipt_no=record["receipt_no"], error=exc.message)
                            continue
                        if since is not None and case.submitted_at is not None and case.submitted_at < since:
                            reached = True
                            break
                        seen.setdefault(case.receipt_no, case)
                    pages = max(pages, number)
                    if reached or not mine.has_next:
                        complete = True
                        break
                    if number >= max_pages:
                        break
                    mine = await mine.next_page()
                    number += 1
                break
            except SessionExpired:
                relogins += 1  # the list is read again from its first page: a case is kept once
                if relogins > MAX_RELOGINS:
                    raise
                blog.info("robot.sweep.session_expired", step=where[0], relogin=relogins)
    result = SweepResult(cases=list(seen.values()), pages=pages, complete=complete, unreadable=len(unreadable))
    blog.info(
        "robot.sweep.read",
        pages=pages,
        cases=len(result.cases),
        decided=len(result.decided),
        complete=complete,
        unreadable=result.unreadable,
    )
    return result


def next_since(
    result: SweepResult,
    since: datetime | None,
    *,
    now: datetime,
    recheck: timedelta,
    taken: Iterable[str] = (),
) -> datetime | None:
    """Where the next sweep may stop: the submission time of the oldest case still worth reading again.

    Worth reading again: a case in review (its decision is to come), or one decided less than ``recheck``
    ago that no application took yet (``taken``: receipts delivered; the application may not know the
    receipt yet). Without such a case: the newest case read when the list was read down to ``since``, or
    the oldest read when the sweep stopped at its page limit (older cases are left to the tasks' own
    inquiries). A case without its times keeps ``since`` where it was."""
    taken = set(taken)
    cases = result.cases
    pending: list[datetime] = []
    for c in cases:
        if c.submitted_at is None:
            return since
        if not c.decided:
            pending.append(c.submitted_at)
        elif c.receipt_no not in taken and c.decided_at is not None and now - c.decided_at < recheck:
            pending.append(c.submitted_at)
    if pending:
        return min(pending)
    if not cases:
        return since
    times = [c.submitted_at for c in cases if c.submitted_at is not None]
    return max(times) if result.complete else min(times)
