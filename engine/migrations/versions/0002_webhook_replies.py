"""webhook replies: review flags, and what a reply carries on its message row

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 12:24:44.960684
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import engine.dbtypes

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Adding nullable columns and plain indexes needs no table copy on SQLite, so the
    # partial unique index on messages is left exactly as it is.
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("peer_phone", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("origin", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("intents", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("classified_at", engine.dbtypes.UTCDateTime(), nullable=True))
        batch_op.create_index(
            "ix_messages_unclassified", ["direction", "classified_at"], unique=False
        )

    op.create_table(
        "review_flags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("lead_id", sa.Integer(), nullable=True),
        sa.Column("enrollment_id", sa.Integer(), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("created_at", engine.dbtypes.UTCDateTime(), nullable=False),
        sa.Column("resolved_at", engine.dbtypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["enrollment_id"], ["enrollments.id"]),
        sa.ForeignKeyConstraint(["lead_id"], ["leads.id"]),
        sa.ForeignKeyConstraint(["message_id"], ["messages.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("message_id"),
    )
    with op.batch_alter_table("review_flags", schema=None) as batch_op:
        batch_op.create_index("ix_review_flags_open", ["resolved_at", "priority"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("review_flags", schema=None) as batch_op:
        batch_op.drop_index("ix_review_flags_open")
    op.drop_table("review_flags")

    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index("ix_messages_unclassified")
        batch_op.drop_column("classified_at")
        batch_op.drop_column("intents")
        batch_op.drop_column("origin")
        batch_op.drop_column("peer_phone")
