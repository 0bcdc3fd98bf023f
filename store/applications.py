"""Submitted applications as kaiban itself knows them: whose window, who submitted, which idempotency key.

The API records each application as it starts its workflow and reads it back for access control
(a clerk sees only their window's) and for idempotent resubmission. Calls block briefly: from async
code run them in a thread (``asyncio.to_thread``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

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
        statement = (
            self.db.insert(ApplicationRow)
            .values(
                application_id=application_id,
                window_id=window_id,
                submitted_by=submitted_by,
                company_name=company_name,
                submitted_at=submitted_at,
                idempotency_key=idempotency_key,
                body_sha256=body_sha256,
            )
            .on_conflict_do_nothing(index_elements=["application_id"])
            .returning(ApplicationRow.application_id)
        )
        with self.db.writing() as session:
            return session.execute(statement).first() is not None  # no row back: the id was there

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
        with self.db.reading() as session:
            row = session.scalar(query)
            return _record(row) if row is not None else None


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
