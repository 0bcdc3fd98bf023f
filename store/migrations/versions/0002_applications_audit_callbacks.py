"""Applications as kaiban knows them, the append-only audit trail, and the callback signatures seen.

The audit table refuses UPDATE and DELETE (and TRUNCATE on PostgreSQL) by triggers.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from store.tables import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

APPEND_ONLY = "audit is append-only"

PG_FUNCTION = f"""
CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '{APPEND_ONLY}' USING ERRCODE = 'insufficient_privilege';
END
$$
"""
PG_TRIGGERS = [
    "CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit "
    "FOR EACH ROW EXECUTE FUNCTION audit_append_only()",
    "CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only()",
]
SQLITE_TRIGGERS = [
    f"CREATE TRIGGER audit_no_{verb.lower()} BEFORE {verb} ON audit BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END"
    for verb in ("UPDATE", "DELETE")
]


def upgrade() -> None:
    _applications()
    _audit()
    op.create_table(
        "callback_signatures",
        sa.Column("department", sa.String(), nullable=False),
        sa.Column("signature", sa.String(), nullable=False),
        sa.Column("seen_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("department", "signature", name=op.f("pk_callback_signatures")),
    )
    op.create_index("ix_callback_signatures_seen", "callback_signatures", ["seen_at"])


def _applications() -> None:
    op.create_table(
        "applications",
        sa.Column("application_id", sa.String(), nullable=False),
        sa.Column("window_id", sa.String(), nullable=False),
        sa.Column("submitted_by", sa.String(), nullable=False),
        sa.Column("company_name", sa.Text(), nullable=False),
        sa.Column("submitted_at", UTCDateTime(), nullable=False),
        sa.Column("idempotency_key", sa.String(), nullable=True),
        sa.Column("body_sha256", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("application_id", name=op.f("pk_applications")),
    )
    op.create_index(
        "ix_applications_idempotency", "applications", ["window_id", "idempotency_key", sa.text("submitted_at DESC")]
    )


def _audit() -> None:
    op.create_table(
        "audit",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("role", sa.String(), nullable=True),
        sa.Column("window_id", sa.String(), nullable=True),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("target", sa.String(), nullable=False),
        sa.Column("application_id", sa.String(), nullable=True),
        sa.Column("outcome", sa.String(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("detail", sa.JSON(none_as_null=True), nullable=True),
        sa.CheckConstraint("outcome IN ('allowed', 'denied')", name=op.f("ck_audit_outcome")),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit")),
    )
    op.create_index("ix_audit_application", "audit", ["application_id", sa.text("seq DESC")])
    op.create_index("ix_audit_actor", "audit", ["actor", sa.text("seq DESC")])
    op.create_index("ix_audit_outcome", "audit", ["outcome", sa.text("seq DESC")])
    op.create_index("ix_audit_at", "audit", ["at"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_FUNCTION)
        for statement in PG_TRIGGERS:
            op.execute(statement)
    else:
        for statement in SQLITE_TRIGGERS:
            op.execute(statement)


def downgrade() -> None:
    op.drop_index("ix_callback_signatures_seen", table_name="callback_signatures")
    op.drop_table("callback_signatures")
    op.drop_table("audit")  # its indexes and triggers go with it
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION audit_append_only()")
    op.drop_index("ix_applications_idempotency", table_name="applications")
    op.drop_table("applications")
