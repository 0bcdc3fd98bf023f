"""Warm pages: the logged-in pages a browser pool keeps open per portal account between robot tasks.

A warm page serves one task at a time. Before a task it is checked (:func:`unusable`): still open, its
browser connected, not crashed, answering a trivial ``evaluate`` within ``PROBE_TIMEOUT_S``, on its
portal's origin; the flow then finds out whether the portal still has it logged in (it opens the progress
page, and logs in again when the portal shows its login). A page that fails the check is replaced by a
fresh one. A failed task's page goes first to the retry of the same application (``affinity``), held
for it ``DRAFT_HOLD_S``, as a kept session does (bots/sessions.py). The story: bots/README.md.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from playwright.async_api import BrowserContext, Page

from bots.sessions import DRAFT_HOLD_S, Account, choose

__all__ = ["PROBE_TIMEOUT_S", "WarmPage", "WarmPages", "unusable"]

PROBE_TIMEOUT_S = 2.0  # a page that does not evaluate ``1`` within this is stuck: replaced


@dataclass(eq=False)
class WarmPage:
    """One open page (and its context) of a portal account, on one browser generation."""

    key: Account
    context: BrowserContext
    page: Page
    gen: Any  # the pool's browser generation the page lives in
    tasks: int = 0  # tasks it served
    draft_of: str | None = None  # the affinity of a failed task that left it, if any
    kept_at: float = 0.0  # when it became idle (the store's clock)
    crashed: bool = field(default=False)

    def __post_init__(self) -> None:
        def on_crash(_: object) -> None:
            self.crashed = True

        self.page.on("crash", on_crash)


class WarmPages:
    """Idle warm pages: at most ``per_account`` per account and ``total`` in all (the oldest go first),
    each closed when idle longer than ``idle_s``. The store only keeps them: the pool opens and closes."""

    def __init__(
        self,
        per_account: int,
        total: int,
        idle_s: float,
        *,
        hold_s: float = DRAFT_HOLD_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_account = max(0, per_account)
        self.total = max(0, total)
        self.idle_s = idle_s
        self.hold_s = hold_s
        self.clock = clock
        self._idle: dict[Account, list[WarmPage]] = {}

    @property
    def enabled(self) -> bool:
        return self.per_account > 0 and self.total > 0

    def count(self, key: Account | None = None) -> int:
        if key is None:
            return sum(len(v) for v in self._idle.values())
        return len(self._idle.get(key, ()))

    def take(self, key: Account, affinity: str | None) -> WarmPage | None:
        """Lend an idle page of ``key``, chosen as a kept session is (bots.sessions.choose)."""
        idle = self._idle.get(key)
        if not idle:
            return None
        return choose(idle, affinity, self.clock(), self.hold_s)

    def put(self, warm: WarmPage) -> list[WarmPage]:
        """Keep ``warm`` idle; returns the pages that no longer fit (to be closed by the caller)."""
        warm.kept_at = self.clock()
        idle = self._idle.setdefault(warm.key, [])
        idle.append(warm)
        out = idle[: max(0, len(idle) - self.per_account)]
        del idle[: len(out)]
        while self.count() > self.total:
            oldest = min((w for pages in self._idle.values() for w in pages), key=lambda w: w.kept_at)
            self._idle[oldest.key].remove(oldest)
            out.append(oldest)
        return out

    def remove(self, wanted: Callable[[WarmPage], bool]) -> list[WarmPage]:
        """Take out every idle page ``wanted`` says (to be closed by the caller)."""
        out: list[WarmPage] = []
        for key in list(self._idle):
            keep: list[WarmPage] = []
            for w in self._idle[key]:
                (out if wanted(w) else keep).append(w)
            if keep:
                self._idle[key] = keep
            else:
                del self._idle[key]
        return out

    def expired(self) -> list[WarmPage]:
        """Take out the pages idle longer than ``idle_s``."""
        now = self.clock()
        return self.remove(lambda w: now - w.kept_at > self.idle_s)


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc


async def unusable(warm: WarmPage, timeout_s: float = PROBE_TIMEOUT_S) -> str | None:
    """Why ``warm`` cannot serve the next task (``closed``, ``browser_gone``, ``crashed``, ``stuck``,
    ``unknown_page``), or None when it can."""
    if warm.page.is_closed():
        return "closed"
    if not warm.gen.browser.is_connected():
        return "browser_gone"
    if warm.crashed:
        return "crashed"
    try:
        answer = await asyncio.wait_for(warm.page.evaluate("1 + 1"), timeout_s)
    except TimeoutError:
        return "stuck"
    except Exception:  # a crashed or closing target
        return "crashed"
    if answer != 2:
        return "stuck"
    if _origin(warm.page.url) != _origin(warm.key[0]):
        return "unknown_page"  # not on its portal (an error page, a blank page): a fresh one is cheaper
    return None
