"""The audit trail: every state-changing request and every refusal, append-only.

The store has no way to change or remove an entry, and the database refuses both (triggers made by
migration 0002). ``detail`` holds small structured facts, never personal data. Calls block briefly:
from async code run them in a thread (``asyncio.to_thread``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, func, insert, select

from store.db import Database
from store.tables import AuditRow

Outcome = Literal["allowed", "denied"]
OUTCOMES: tuple[Outcome, ...] = ("allowed", "denied")
ANONYMOUS = "anonymous"  # the actor of a request without a valid identity
MAX_DETAIL_CHARS = 4000  # ``detail`` as JSON: small facts, not payloads
MAX_LIMIT = 1000


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One entry. ``seq`` is given by the store: None when appending, set when read back."""

    at: datetime
    actor: str  # the identity's subject, or ANONYMOUS
    action: str  # e.g. "submit_application", "extend_deadline", "read_application"
    target: str  # e.g. "applications/KB…/departments/tax"
    outcome: Outcome
    status_code: int
    role: str | None = None
    window_id: str | None = None  # the actor's window
    application_id: str | None = None
    reason: str | None = None  # Chinese or English
    detail: Mapping[str, Any] | None = None
    seq: int | None = None


class AuditStore:
    """The audit trail in kaiban's database: append and read, nothing else. Safe from any thread."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def append(self, entry: AuditEntry) -> int:
        """Add ``entry`` (its ``seq`` is ignored); the sequence number it was given."""
        if entry.outcome not in OUTCOMES:
            raise ValueError(f"outcome is one of {OUTCOMES}, not {entry.outcome!r}")
        detail = dict(entry.detail) if entry.detail is not None else None
        if detail is not None and len(json.dumps(detail, ensure_ascii=False, default=str)) > MAX_DETAIL_CHARS:
            raise ValueError(f"an audit entry's detail is at most {MAX_DETAIL_CHARS} characters of JSON")
        statement = (
            insert(AuditRow)
            .values(
                at=entry.at,
                actor=entry.actor,
                role=entry.role,
                window_id=entry.window_id,
                action=entry.action,
                target=entry.target,
                application_id=entry.application_id,
                outcome=entry.outcome,
                status_code=int(entry.status_code),
                reason=entry.reason,
                detail=detail,
            )
            .returning(AuditRow.seq)
        )
        with self.db.writing() as session:
            return int(session.execute(statement).scalar_one())

    def count(
        self,
        *,
        application_id: str | None = None,
        actor: str | None = None,
        outcome: Outcome | None = None,
        action: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> int:
        """How many entries match (the filters of ``list``)."""
        where = _filters(application_id, actor, outcome, action, since, until)
        with self.db.reading() as session:
            return int(session.scalar(select(func.count()).select_from(AuditRow).where(*where)) or 0)

    def list(
        self,
        *,
        application_id: str | None = None,
        actor: str | None = None,
        outcome: Outcome | None = None,
        action: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
        before_seq: int | None = None,
    ) -> list[AuditEntry]:
        """Entries newest first (by ``seq``), at most ``limit`` (up to 1000).

        A filter left None does not filter; ``since <= at < until``. The next page: ``before_seq`` =
        the last entry's ``seq``.
        """
        where = _filters(application_id, actor, outcome, action, since, until)
        if before_seq is not None:
            where.append(AuditRow.seq < before_seq)
        limit = max(0, min(int(limit), MAX_LIMIT))
        query = select(AuditRow).where(*where).order_by(AuditRow.seq.desc()).limit(limit)
        with self.db.reading() as session:
            return [_entry(row) for row in session.scalars(query)]


def _filters(
    application_id: str | None,
    actor: str | None,
    outcome: str | None,
    action: str | None,
    since: datetime | None,
    until: datetime | None,
) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    for column, value in (
        (AuditRow.application_id, application_id),
        (AuditRow.actor, actor),
        (AuditRow.outcome, outcome),
        (AuditRow.action, action),
    ):
        if value is not None:
            where.append(column == value)
    if since is not None:
        where.append(AuditRow.at >= since)
    if until is not None:
        where.append(AuditRow.at < until)
    return where


def _entry(row: AuditRow) -> AuditEntry:
    return AuditEntry(
        seq=row.seq,
        at=row.at,
        actor=row.actor,
        role=row.role,
        window_id=row.window_id,
        action=row.action,
        target=row.target,
        application_id=row.application_id,
        outcome="denied" if row.outcome == "denied" else "allowed",
        status_code=row.status_code,
        reason=row.reason,
        detail=row.detail,
    )
