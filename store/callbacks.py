"""Department callback signatures already seen: a signed callback is accepted once, a replay is refused.

A signature older than the callback window (5 minutes) is refused for its timestamp anyway, so rows
older than that may be pruned with ``forget_before``. Calls block briefly: from async code run them
in a thread (``asyncio.to_thread``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete

from store.db import Database
from store.tables import CallbackSignatureRow

MAX_SIGNATURE_CHARS = 1024  # an HMAC-SHA256 is 64 hex characters; anything this long is not one


class CallbackReplayGuard:
    """The (department, signature) pairs seen. One instance per process; safe from any thread or process."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def first_use(self, department: str, signature: str, seen_at: datetime) -> bool:
        """Record ``signature`` of ``department``: True the first time, False for a replay.

        Atomic: of several callers at once with the same pair, exactly one gets True.
        """
        if not signature or len(signature) > MAX_SIGNATURE_CHARS:
            raise ValueError(f"a callback signature has 1 to {MAX_SIGNATURE_CHARS} characters")
        statement = (
            self.db.insert(CallbackSignatureRow)
            .values(department=department, signature=signature, seen_at=seen_at)
            .on_conflict_do_nothing(index_elements=["department", "signature"])
            .returning(CallbackSignatureRow.signature)
        )
        with self.db.writing() as session:
            return session.execute(statement).first() is not None  # no row back: seen before

    def forget_before(self, instant: datetime) -> int:
        """Drop the signatures seen before ``instant``; how many were dropped."""
        statement = delete(CallbackSignatureRow).where(CallbackSignatureRow.seen_at < instant)
        with self.db.writing() as session:
            return int(session.execute(statement).rowcount)  # type: ignore[attr-defined]
