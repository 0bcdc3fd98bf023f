"""Escalation notices and their deliveries (were a SQLite file of the notify activity).

Revision ID: 0001
Revises:
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from store.tables import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notices",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("application_id", sa.String(), nullable=False),
        sa.Column("department", sa.String(), nullable=True),
        sa.Column("level", sa.String(), nullable=False),
        sa.Column("audience", sa.String(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("planned_at", UTCDateTime(), nullable=False),
        sa.Column("fired_at", UTCDateTime(), nullable=False),
        sa.Column("window_id", sa.String(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_notices")),
        sa.UniqueConstraint("key", name=op.f("uq_notices_key")),
    )
    op.create_index("ix_notices_fired", "notices", [sa.text("fired_at DESC"), sa.text("seq DESC")])
    op.create_index("ix_notices_application", "notices", ["application_id", sa.text("fired_at DESC")])
    op.create_index("ix_notices_audience", "notices", ["audience", sa.text("fired_at DESC")])
    op.create_table(
        "notice_deliveries",
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("channel", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("first_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("last_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("delivered_at", UTCDateTime(), nullable=True),
        sa.CheckConstraint("status IN ('delivered', 'failed')", name=op.f("ck_notice_deliveries_status")),
        sa.ForeignKeyConstraint(
            ["key"], ["notices.key"], name=op.f("fk_notice_deliveries_key_notices"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("key", "channel", name=op.f("pk_notice_deliveries")),
    )


def downgrade() -> None:
    op.drop_table("notice_deliveries")
    op.drop_index("ix_notices_audience", table_name="notices")
    op.drop_index("ix_notices_application", table_name="notices")
    op.drop_index("ix_notices_fired", table_name="notices")
    op.drop_table("notices")
