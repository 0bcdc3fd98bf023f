"""kaiban's tables as SQLAlchemy models. Every change here comes with a migration in ``store/migrations``.

Instants are stored in UTC (``timestamptz`` on PostgreSQL, UTC text on SQLite, so that text order is
time order) and read back as aware UTC datetimes. The audit trail's append-only triggers are not models:
they live in migration 0002.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
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
    type_annotation_map = {datetime: UTCDateTime(), str: String(), dict[str, Any]: JSON(none_as_null=True)}


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


class ApplicationRow(Base):
    """What kaiban itself knows of a submitted application: whose window it is, who submitted it, and
    the idempotency key it came with (a key may be reused once its lifetime is over: not unique)."""

    __tablename__ = "applications"

    application_id: Mapped[str] = mapped_column(primary_key=True)
    window_id: Mapped[str]
    submitted_by: Mapped[str]
    company_name: Mapped[str] = mapped_column(Text)
    submitted_at: Mapped[datetime]
    idempotency_key: Mapped[str | None]
    body_sha256: Mapped[str | None]


# the newest submission of a window with a key (and a window's applications, newest first)
Index(
    "ix_applications_idempotency",
    ApplicationRow.window_id,
    ApplicationRow.idempotency_key,
    ApplicationRow.submitted_at.desc(),
)

# a 64-bit sequence on PostgreSQL; SQLite's INTEGER PRIMARY KEY (the rowid) is 64-bit already
AUDIT_SEQ = BigInteger().with_variant(Integer(), "sqlite")


class AuditRow(Base):
    """One state-changing request or one refusal. Append-only: the database refuses UPDATE and DELETE."""

    __tablename__ = "audit"

    seq: Mapped[int] = mapped_column(AUDIT_SEQ, primary_key=True, autoincrement=True)
    at: Mapped[datetime]
    actor: Mapped[str]  # the identity's subject, or "anonymous"
    role: Mapped[str | None]
    window_id: Mapped[str | None]  # the actor's window
    action: Mapped[str]
    target: Mapped[str]
    application_id: Mapped[str | None]
    outcome: Mapped[str]  # allowed | denied
    status_code: Mapped[int]
    reason: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict[str, Any] | None]

    __table_args__ = (CheckConstraint("outcome IN ('allowed', 'denied')", name="outcome"),)


# lists are newest first (by seq) within a filter
Index("ix_audit_application", AuditRow.application_id, AuditRow.seq.desc())
Index("ix_audit_actor", AuditRow.actor, AuditRow.seq.desc())
Index("ix_audit_outcome", AuditRow.outcome, AuditRow.seq.desc())
Index("ix_audit_at", AuditRow.at)


class CallbackSignatureRow(Base):
    """A department callback's signature, seen once: a second use is a replay."""

    __tablename__ = "callback_signatures"

    department: Mapped[str] = mapped_column(primary_key=True)
    signature: Mapped[str] = mapped_column(primary_key=True)
    seen_at: Mapped[datetime]


Index("ix_callback_signatures_seen", CallbackSignatureRow.seen_at)


class CalendarYearRow(Base):
    """A year's official holiday arrangement (the State Council's notice) as an admin loaded it: the days
    off and the make-up working days (调休上班日). Loading a year again replaces it (the audit keeps each load)."""

    __tablename__ = "calendar_years"

    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    holidays: Mapped[list[str]] = mapped_column(JSON)  # "YYYY-MM-DD", sorted
    workdays: Mapped[list[str]] = mapped_column(JSON)
    source: Mapped[str] = mapped_column(Text)
    loaded_by: Mapped[str]
    loaded_at: Mapped[datetime]


class MaterialRow(Base):
    """A file a window uploaded (its bytes in the object storage, by SHA-256), of one kind, and what was read
    from it. The same content of the same kind uploaded again by the window is the same material."""

    __tablename__ = "materials"

    material_id: Mapped[str] = mapped_column(primary_key=True)
    sha256: Mapped[str]
    kind: Mapped[str]
    content_type: Mapped[str]
    size_bytes: Mapped[int]
    filename: Mapped[str | None] = mapped_column(Text)
    window_id: Mapped[str]
    uploaded_by: Mapped[str]
    uploaded_at: Mapped[datetime]
    status: Mapped[str]  # stored | read | unreadable
    fields: Mapped[dict[str, Any] | None]  # {"id_number": {"value", "confidence", "problem"}, …}
    read_at: Mapped[datetime | None]
    read_error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (CheckConstraint("status IN ('stored', 'read', 'unreadable')", name="status"),)


# a window's materials by content (the intake's check of an application's materials[].sha256)
Index("ix_materials_window_sha256", MaterialRow.window_id, MaterialRow.sha256)


class MaterialFindingRow(Base):
    """One pre-review finding of a submitted application (a material against the form) and the clerk's
    decision on it. The decisions are also in the audit trail, which is append-only."""

    __tablename__ = "material_findings"

    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    application_id: Mapped[str]
    material_id: Mapped[str | None]
    material_sha256: Mapped[str]
    kind: Mapped[str]
    concerns: Mapped[str | None]
    field: Mapped[str]
    read_field: Mapped[str]
    form_value: Mapped[str] = mapped_column(Text)
    read_value: Mapped[str | None] = mapped_column(Text)
    confidence: Mapped[float] = mapped_column(Float)
    message: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[datetime]
    decision: Mapped[str | None]  # None (open) | form_correct | form_corrected
    corrected_value: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[str | None]
    decided_at: Mapped[datetime | None]

    __table_args__ = (
        CheckConstraint("decision IS NULL OR decision IN ('form_correct', 'form_corrected')", name="decision"),
        UniqueConstraint("application_id", "material_sha256", "field", name="uq_material_findings_one"),
    )


Index("ix_material_findings_material", MaterialFindingRow.material_id)


class PortalMappingRow(Base):
    """A field mapping for one version (fingerprint) of a department's changed portal form: proposed by a
    robot, decided by an admin. One per department and version."""

    __tablename__ = "portal_mappings"

    mapping_id: Mapped[str] = mapped_column(primary_key=True)
    department: Mapped[str]
    fingerprint: Mapped[str]
    status: Mapped[str]  # proposed | approved | rejected | needs_developer
    proposal: Mapped[dict[str, Any]]  # bots.healing.Proposal.as_dict()
    mapping: Mapped[dict[str, Any] | None]  # the approved mapping: {"titles": [...], "fields": {label: {step, label}}}
    screenshots: Mapped[list[str] | None] = mapped_column(JSON)  # evidence paths, one per step of the form
    proposed_at: Mapped[datetime]
    proposed_for: Mapped[str | None]  # the application whose task met the form first
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[str | None]
    note: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        CheckConstraint("status IN ('proposed', 'approved', 'rejected', 'needs_developer')", name="status"),
        UniqueConstraint("department", "fingerprint", name="uq_portal_mappings_version"),
    )
