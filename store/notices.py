"""Escalation notices and their deliveries: written by the worker's ``notify`` activity, read by the API.

A notice is recorded once per ``key``; per channel the store keeps whether delivery got through
(status, attempts, last status code, last error). Calls block briefly: from async code run them in
a thread (``asyncio.to_thread``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, TypedDict

from sqlalchemy import Select, case, false, select
from sqlalchemy.orm import Session

from store.db import Database
from store.tables import NoticeDeliveryRow, NoticeRow

MAX_ERROR_CHARS = 500
_IN_CHUNK = 500  # keys per IN (...): below SQLite's bound-parameter limit


@dataclass(frozen=True, slots=True)
class Notice:
    """What the store records of one notice (the worker's ``Notification`` converted)."""

    key: str
    application_id: str
    level: str
    audience: str
    sequence: int
    due_at: datetime
    planned_at: datetime
    fired_at: datetime
    window_id: str
    message: str
    department: str | None = None


class DeliveryView(TypedDict):
    channel: str
    status: Literal["delivered", "failed"]
    attempts: int
    last_status_code: int | None
    last_error: str | None
    first_attempt_at: datetime
    last_attempt_at: datetime
    delivered_at: datetime | None


class NoticeView(TypedDict):
    """A notice as read back: its fields (instants in UTC), ``recorded_at``, its deliveries, and
    ``delivery_status``: ``delivered`` (some channel got through), ``failed`` (attempted, none got
    through yet) or ``recorded`` (only in the store)."""

    key: str
    application_id: str
    department: str | None
    level: str
    audience: str
    sequence: int
    due_at: datetime
    planned_at: datetime
    fired_at: datetime
    window_id: str
    message: str
    recorded_at: datetime
    deliveries: list[DeliveryView]
    delivery_status: Literal["recorded", "delivered", "failed"]


def _now() -> datetime:
    return datetime.now(UTC)


class NoticeStore:
    """Notices in kaiban's database. One instance per process; safe from any thread."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- writing ----------------------------------------------------------------------------------

    def record(self, n: Notice) -> bool:
        """Store ``n`` unless its key is already there (the first write wins). True when it was new."""
        values = {
            "key": n.key,
            "application_id": n.application_id,
            "department": n.department,
            "level": n.level,
            "audience": n.audience,
            "sequence": n.sequence,
            "due_at": n.due_at,
            "planned_at": n.planned_at,
            "fired_at": n.fired_at,
            "window_id": n.window_id,
            "message": n.message,
            "recorded_at": _now(),
        }
        statement = (
            self.db.insert(NoticeRow)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["key"])
            .returning(NoticeRow.seq)
        )
        with self.db.writing() as session:
            return session.execute(statement).first() is not None  # no row back: the key was there

    def mark_delivered(self, key: str, channel: str, status_code: int | None) -> None:
        """One attempt on ``channel`` got through (the last error, if any, is kept for the record)."""
        now = _now()
        statement = self.db.insert(NoticeDeliveryRow).values(
            key=key, channel=channel, status="delivered", attempts=1, last_status_code=status_code,
            first_attempt_at=now, last_attempt_at=now, delivered_at=now,
        )  # fmt: skip
        statement = statement.on_conflict_do_update(
            index_elements=["key", "channel"],
            set_={
                "status": "delivered",
                "attempts": NoticeDeliveryRow.attempts + 1,
                "last_status_code": statement.excluded.last_status_code,
                "last_attempt_at": statement.excluded.last_attempt_at,
                "delivered_at": statement.excluded.delivered_at,
            },
        )
        with self.db.writing() as session:
            self._require(session, key)
            session.execute(statement)

    def mark_failed(self, key: str, channel: str, error: str, *, status_code: int | None = None) -> None:
        """One attempt on ``channel`` failed with ``error`` (a channel once delivered stays delivered)."""
        now = _now()
        statement = self.db.insert(NoticeDeliveryRow).values(
            key=key, channel=channel, status="failed", attempts=1, last_status_code=status_code,
            last_error=error[:MAX_ERROR_CHARS], first_attempt_at=now, last_attempt_at=now,
        )  # fmt: skip
        statement = statement.on_conflict_do_update(
            index_elements=["key", "channel"],
            set_={
                "status": case((NoticeDeliveryRow.status == "delivered", "delivered"), else_="failed"),
                "attempts": NoticeDeliveryRow.attempts + 1,
                "last_status_code": statement.excluded.last_status_code,
                "last_error": statement.excluded.last_error,
                "last_attempt_at": statement.excluded.last_attempt_at,
            },
        )
        with self.db.writing() as session:
            self._require(session, key)
            session.execute(statement)

    @staticmethod
    def _require(session: Session, key: str) -> None:
        if session.scalar(select(NoticeRow.seq).where(NoticeRow.key == key)) is None:
            raise KeyError(f"no notice {key!r} in the store")

    # -- reading ----------------------------------------------------------------------------------

    def get(self, key: str) -> NoticeView | None:
        """One notice with its deliveries, or None."""
        with self.db.reading() as session:
            row = session.scalar(select(NoticeRow).where(NoticeRow.key == key))
            return _with_deliveries(session, [row])[0] if row is not None else None

    def delivery(self, key: str, channel: str) -> DeliveryView | None:
        """The delivery state of one notice on one channel, or None if never attempted."""
        with self.db.reading() as session:
            row = session.get(NoticeDeliveryRow, (key, channel))
            return _delivery_view(row) if row is not None else None

    def list(
        self,
        *,
        application_id: str | None = None,
        audience: str | None = None,
        department: str | None = None,
        level: str | Iterable[str] | None = None,
        limit: int = 200,
    ) -> list[NoticeView]:
        """Notices, newest first (by the instant the step fired), each with its deliveries.

        A filter left None does not filter; ``level`` may be one level or several.
        """
        query: Select[tuple[NoticeRow]] = select(NoticeRow)
        for column, value in (
            (NoticeRow.application_id, application_id),
            (NoticeRow.audience, audience),
            (NoticeRow.department, department),
        ):
            if value is not None:
                query = query.where(column == value)
        if level is not None:
            levels = [level] if isinstance(level, str) else list(level)
            query = query.where(NoticeRow.level.in_(levels) if levels else false())
        query = query.order_by(NoticeRow.fired_at.desc(), NoticeRow.seq.desc()).limit(max(0, int(limit)))
        with self.db.reading() as session:
            return _with_deliveries(session, list(session.scalars(query)))


def _with_deliveries(session: Session, rows: list[NoticeRow]) -> list[NoticeView]:
    by_key: dict[str, list[DeliveryView]] = {row.key: [] for row in rows}
    keys = list(by_key)
    for start in range(0, len(keys), _IN_CHUNK):
        chunk = keys[start : start + _IN_CHUNK]
        query = select(NoticeDeliveryRow).where(NoticeDeliveryRow.key.in_(chunk)).order_by(NoticeDeliveryRow.channel)
        for d in session.scalars(query):
            by_key[d.key].append(_delivery_view(d))
    return [_notice_view(row, by_key[row.key]) for row in rows]


def _notice_view(row: NoticeRow, deliveries: list[DeliveryView]) -> NoticeView:
    statuses = {d["status"] for d in deliveries}
    return NoticeView(
        key=row.key,
        application_id=row.application_id,
        department=row.department,
        level=row.level,
        audience=row.audience,
        sequence=row.sequence,
        due_at=row.due_at,
        planned_at=row.planned_at,
        fired_at=row.fired_at,
        window_id=row.window_id,
        message=row.message,
        recorded_at=row.recorded_at,
        deliveries=deliveries,
        delivery_status="delivered" if "delivered" in statuses else "failed" if statuses else "recorded",
    )


def _delivery_view(row: NoticeDeliveryRow) -> DeliveryView:
    return DeliveryView(
        channel=row.channel,
        status="delivered" if row.status == "delivered" else "failed",
        attempts=row.attempts,
        last_status_code=row.last_status_code,
        last_error=row.last_error,
        first_attempt_at=row.first_attempt_at,
        last_attempt_at=row.last_attempt_at,
        delivered_at=row.delivered_at,
    )
