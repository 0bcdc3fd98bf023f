"""Field mappings of changed department portals: proposed by the robots, decided by an admin.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from store.tables import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "portal_mappings",
        sa.Column("mapping_id", sa.String(), nullable=False),
        sa.Column("department", sa.String(), nullable=False),
        sa.Column("fingerprint", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("proposal", sa.JSON(none_as_null=True), nullable=False),
        sa.Column("mapping", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("screenshots", sa.JSON(), nullable=True),
        sa.Column("proposed_at", UTCDateTime(), nullable=False),
        sa.Column("proposed_for", sa.String(), nullable=True),
        sa.Column("decided_at", UTCDateTime(), nullable=True),
        sa.Column("decided_by", sa.String(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('proposed', 'approved', 'rejected', 'needs_developer')", name=op.f("ck_portal_mappings_status")
        ),
        sa.PrimaryKeyConstraint("mapping_id", name=op.f("pk_portal_mappings")),
        sa.UniqueConstraint("department", "fingerprint", name="uq_portal_mappings_version"),
    )


def downgrade() -> None:
    op.drop_table("portal_mappings")
