"""The logged-in portal sessions the browser pool keeps per account between robot tasks.

A session is lent to one task at a time; a failed task's session is held for the retry of the
same application (its ``affinity``) for ``DRAFT_HOLD_S``. The story: bots/README.md.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

import structlog
from playwright.async_api import BrowserContext, StorageState

from bots.errors import LoginRejected, SessionExpired

__all__ = ["Account", "Session", "SessionStore", "choose", "draft_after"]

Account = tuple[str, str]  # (portal base URL, user name): whose logged-in sessions a task may reuse


def _log() -> structlog.typing.FilteringBoundLogger:
    # Looked up at call time, so a logging configuration made later (or capture_logs) is honoured.
    return structlog.get_logger(__name__)


@dataclass(eq=False)
class Session:
    """A portal session an account's task left behind: its cookies (``storage_state``)."""

    state: StorageState
    draft_of: str | None  # the affinity (application id) of a failed task that used it, if any
    kept_at: float  # time.monotonic()


class _Kept(Protocol):
    draft_of: str | None
    kept_at: float


K = TypeVar("K", bound=_Kept)

DRAFT_HOLD_S = 300.0  # a failed task's session waits that long for its retry before others may take it


def choose(idle: list[K], affinity: str | None, now: float, hold_s: float = DRAFT_HOLD_S) -> K | None:
    """Take (pop) one of ``idle``: the latest one a failed task of ``affinity`` left, else the latest one no
    failed task left, else one a failed task left longer than ``hold_s`` ago; None when none may be lent."""
    choices: tuple[Callable[[K], bool], ...] = (
        lambda s: affinity is not None and s.draft_of == affinity,
        lambda s: s.draft_of is None,
        lambda s: now - s.kept_at > hold_s,
    )
    for wanted in choices:
        for i in range(len(idle) - 1, -1, -1):
            if wanted(idle[i]):
                return idle.pop(i)
    return None


def draft_after(failure: BaseException | None, affinity: str | None, before: str | None) -> str | None:
    """Whose half-filled form a session may hold after a task: the failed task's application (its retry
    may find it on the portal), none after a task of its own, unchanged after an inquiry (no affinity)."""
    if isinstance(failure, SessionExpired):
        return None  # the draft went with the portal's session
    if failure is not None and affinity is not None and getattr(failure, "retryable", True):
        return affinity
    if affinity is not None:
        return None  # a task of its own used the session: whatever form was there is gone or filed
    return before


class SessionStore:
    """Idle sessions per account, at most ``keep`` each (the latest)."""

    DRAFT_HOLD_S = DRAFT_HOLD_S
    STATE_TIMEOUT_S = 5.0  # reading a context's cookies at the end of a task

    def __init__(self, keep: int) -> None:
        self.keep_each = keep
        self._idle: dict[Account, list[Session]] = {}

    @staticmethod
    def key(account: Account) -> Account:
        base_url, username = account
        return (base_url.rstrip("/"), username)

    def count(self, account: Account) -> int:
        return len(self._idle.get(self.key(account), ()))

    def clear(self) -> None:
        self._idle.clear()

    def take(self, key: Account, affinity: str | None) -> Session | None:
        """Lend one idle session of ``key``: the latest one a failed task of ``affinity`` left, else the
        latest one no failed task left, else one a failed task left longer than DRAFT_HOLD_S ago."""
        idle = self._idle.get(key)
        if not idle:
            return None
        return choose(idle, affinity, time.monotonic(), self.DRAFT_HOLD_S)

    def keep(self, key: Account, state: StorageState, draft_of: str | None) -> None:
        """Keep a session (the cookies of a page that is being closed) for the account's next tasks."""
        if not state.get("cookies"):
            return  # never logged in
        idle = self._idle.setdefault(key, [])
        idle.append(Session(state, draft_of, time.monotonic()))
        del idle[: max(0, len(idle) - self.keep_each)]

    def drop(self, key: Account) -> int:
        """Forget every idle session of ``key`` (its login was refused); how many there were."""
        return len(self._idle.pop(key, ()))

    async def give_back(
        self,
        key: Account,
        context: BrowserContext,
        lent: Session | None,
        affinity: str | None,
        failure: BaseException | None,
    ) -> None:
        """After a task: keep its context's session for the account's next tasks, or drop it."""
        if isinstance(failure, LoginRejected):
            dropped = self.drop(key)
            _log().info("browser.sessions_dropped", portal=key[0], reason="login_rejected", idle=dropped)
            return
        if isinstance(failure, SessionExpired):
            return  # the portal ended it: the next task logs in
        try:
            state = await asyncio.wait_for(context.storage_state(), self.STATE_TIMEOUT_S)
        except (TimeoutError, Exception):  # a crashed page or browser: nothing to keep
            return
        before = lent.draft_of if lent is not None else None
        self.keep(key, state, draft_after(failure, affinity, before))
