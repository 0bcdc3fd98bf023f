"""Submitted applications as kaiban itself knows them: whose window, who submitted, which idempotency key.

The API records each application as it starts its workflow and reads it back for access control
(a clerk sees only their window's) and for idempotent resubmission. Calls block briefly: from async
code run them in a thread (``asyncio.to_thread``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from store.db import Database
from store.tables import ApplicationRow

_IN_CHUNK = 500  # ids per IN (...): below SQLite's bound-parameter limit


@dataclass(frozen=True, slots=True)
class ApplicationRecord:
    """One submitted application (``submitted_at`` read back as an aware UTC instant)."""

    application_id: str
    window_id: str
    submitted_by: str  # the clerk's subject
    company_name: str
    submitted_at: datetime
    idempotency_key: str | None = None
    body_sha256: str | None = None


class ApplicationStore:
    """Applications in kaiban's database. One instance per process; safe from any thread."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def record(
        self,
        *,
        application_id: str,
        window_id: str,
        submitted_by: str,
        company_name: str,
        submitted_at: datetime,
        idempotency_key: str | None = None,
        body_sha256: str | None = None,
    ) -> bool:
        """Store the application unless its id is already there (the first record wins). True when new."""
        statement = self._insert(
            application_id=application_id,
            window_id=window_id,
            submitted_by=submitted_by,
            company_name=company_name,
            submitted_at=submitted_at,
            idempotency_key=idempotency_key,
            body_sha256=body_sha256,
        )
        with self.db.writing() as session:
            return session.execute(statement).first() is not None  # no row back: the id was there

    def _insert(self, **values: Any) -> Any:
        """Insert one application unless its id is there; returns the id when it was inserted."""
        return (
            self.db.insert(ApplicationRow)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["application_id"])
            .returning(ApplicationRow.application_id)
        )

    def record_unless_key_held(
        self,
        *,
        application_id: str,
        window_id: str,
        submitted_by: str,
        company_name: str,
        submitted_at: datetime,
        idempotency_key: str,
        body_sha256: str,
        since: datetime,
    ) -> tuple[ApplicationRecord, bool]:
        """Record the application unless ``window_id`` already has one with ``idempotency_key`` submitted at
        or after ``since``; one write transaction decides who is first, so of two submissions at the same
        moment only one is recorded. The application that holds the key, and True when it is this one."""
        with self.db.writing() as session:
            # SQLite: the write transaction began IMMEDIATE, writers are already one at a time; PostgreSQL:
            # the holders of one (window, key) wait for each other until commit
            if self.db.dialect == "postgresql":
                session.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": _key_lock(window_id, idempotency_key)}
                )
            held = _newest_with_key(session, window_id, idempotency_key, since)
            if held is not None:
                return _record(held), False
            mine = ApplicationRecord(
                application_id=application_id,
                window_id=window_id,
                submitted_by=submitted_by,
                company_name=company_name,
                submitted_at=submitted_at,
                idempotency_key=idempotency_key,
                body_sha256=body_sha256,
            )
            inserted = session.execute(
                self._insert(
                    application_id=application_id,
                    window_id=window_id,
                    submitted_by=submitted_by,
                    company_name=company_name,
                    submitted_at=submitted_at,
                    idempotency_key=idempotency_key,
                    body_sha256=body_sha256,
                )
            ).first()
            if inserted is None:  # the id was taken (by the same submission): that one holds it
                existing = session.get(ApplicationRow, application_id)
                assert existing is not None
                return _record(existing), False
            return mine, True

    def get(self, application_id: str) -> ApplicationRecord | None:
        with self.db.reading() as session:
            row = session.get(ApplicationRow, application_id)
            return _record(row) if row is not None else None

    def window_of(self, application_id: str) -> str | None:
        """The window the application belongs to, or None when kaiban has no record of it."""
        query = select(ApplicationRow.window_id).where(ApplicationRow.application_id == application_id)
        with self.db.reading() as session:
            return session.scalar(query)

    def windows_of(self, application_ids: Iterable[str]) -> dict[str, str]:
        """The window of each known application among ``application_ids`` (unknown ids are left out)."""
        ids = list(dict.fromkeys(application_ids))
        found: dict[str, str] = {}
        with self.db.reading() as session:
            for start in range(0, len(ids), _IN_CHUNK):
                chunk = ids[start : start + _IN_CHUNK]
                query = select(ApplicationRow.application_id, ApplicationRow.window_id).where(
                    ApplicationRow.application_id.in_(chunk)
                )
                found.update({app_id: window for app_id, window in session.execute(query)})
        return found

    def by_idempotency_key(self, window_id: str, key: str, since: datetime) -> ApplicationRecord | None:
        """The newest application of ``window_id`` submitted with ``key`` at or after ``since``, or None.

        Keys are not unique: one may come back once its lifetime (the caller's ``since``) is over.
        """
        with self.db.reading() as session:
            row = _newest_with_key(session, window_id, key, since)
            return _record(row) if row is not None else None


def _newest_with_key(session: Session, window_id: str, key: str, since: datetime) -> ApplicationRow | None:
    query = (
        select(ApplicationRow)
        .where(
            ApplicationRow.window_id == window_id,
            ApplicationRow.idempotency_key == key,
            ApplicationRow.submitted_at >= since,
        )
        .order_by(ApplicationRow.submitted_at.desc(), ApplicationRow.application_id.desc())
        .limit(1)
    )
    return session.scalar(query)


def _key_lock(window_id: str, key: str) -> int:
    """The PostgreSQL advisory lock (a signed 64-bit number) of one window's idempotency key."""
    digest = hashlib.sha256(f"kaiban-idempotency\x00{window_id}\x00{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _record(row: ApplicationRow) -> ApplicationRecord:
    return ApplicationRecord(
        application_id=row.application_id,
        window_id=row.window_id,
        submitted_by=row.submitted_by,
        company_name=row.company_name,
        submitted_at=row.submitted_at,
        idempotency_key=row.idempotency_key,
        body_sha256=row.body_sha256,
    )
