"""Materials (uploaded files, by content) and the pre-review findings of applications with the clerk's decisions.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from store.tables import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "materials",
        sa.Column("material_id", sa.String(), nullable=False),
        sa.Column("sha256", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("content_type", sa.String(), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("filename", sa.Text(), nullable=True),
        sa.Column("window_id", sa.String(), nullable=False),
        sa.Column("uploaded_by", sa.String(), nullable=False),
        sa.Column("uploaded_at", UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("fields", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("read_at", UTCDateTime(), nullable=True),
        sa.Column("read_error", sa.Text(), nullable=True),
        sa.CheckConstraint("status IN ('stored', 'read', 'unreadable')", name=op.f("ck_materials_status")),
        sa.PrimaryKeyConstraint("material_id", name=op.f("pk_materials")),
    )
    op.create_index("ix_materials_window_sha256", "materials", ["window_id", "sha256"])
    op.create_table(
        "material_findings",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("application_id", sa.String(), nullable=False),
        sa.Column("material_id", sa.String(), nullable=True),
        sa.Column("material_sha256", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("concerns", sa.String(), nullable=True),
        sa.Column("field", sa.String(), nullable=False),
        sa.Column("read_field", sa.String(), nullable=False),
        sa.Column("form_value", sa.Text(), nullable=False),
        sa.Column("read_value", sa.Text(), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.Column("decision", sa.String(), nullable=True),
        sa.Column("corrected_value", sa.Text(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("decided_by", sa.String(), nullable=True),
        sa.Column("decided_at", UTCDateTime(), nullable=True),
        sa.CheckConstraint(
            "decision IS NULL OR decision IN ('form_correct', 'form_corrected')",
            name=op.f("ck_material_findings_decision"),
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_material_findings")),
        sa.UniqueConstraint("application_id", "material_sha256", "field", name="uq_material_findings_one"),
    )
    op.create_index("ix_material_findings_material", "material_findings", ["material_id"])


def downgrade() -> None:
    op.drop_index("ix_material_findings_material", table_name="material_findings")
    op.drop_table("material_findings")
    op.drop_index("ix_materials_window_sha256", table_name="materials")
    op.drop_table("materials")
