"""kaiban's tables as SQLAlchemy models. Every change here comes with a migration in ``store/migrations``.

Instants are stored in UTC (``timestamptz`` on PostgreSQL, UTC text on SQLite, so that text order is
time order) and read back as aware UTC datetimes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import CheckConstraint, DateTime, Dialect, ForeignKey, Index, MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """An aware instant, stored in UTC; a naive one is taken as UTC (workflow times are aware)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), str: String()}


class NoticeRow(Base):
    """One escalation step (or other notice) for an audience, recorded once per ``key``."""

    __tablename__ = "notices"

    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(unique=True)
    application_id: Mapped[str]
    department: Mapped[str | None]
    level: Mapped[str]
    audience: Mapped[str]
    sequence: Mapped[int]
    due_at: Mapped[datetime]
    planned_at: Mapped[datetime]
    fired_at: Mapped[datetime]
    window_id: Mapped[str]
    message: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[datetime]


# newest first, overall and per application and audience (the API's lists)
Index("ix_notices_fired", NoticeRow.fired_at.desc(), NoticeRow.seq.desc())
Index("ix_notices_application", NoticeRow.application_id, NoticeRow.fired_at.desc())
Index("ix_notices_audience", NoticeRow.audience, NoticeRow.fired_at.desc())


class NoticeDeliveryRow(Base):
    """Whether one notice got through on one channel (e.g. ``webhook``), and how the attempts went."""

    __tablename__ = "notice_deliveries"

    key: Mapped[str] = mapped_column(ForeignKey("notices.key", ondelete="CASCADE"), primary_key=True)
    channel: Mapped[str] = mapped_column(primary_key=True)
    status: Mapped[str]  # delivered | failed
    attempts: Mapped[int]
    last_status_code: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    first_attempt_at: Mapped[datetime]
    last_attempt_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]

    __table_args__ = (CheckConstraint("status IN ('delivered', 'failed')", name="status"),)
