"""reply loop: the step a reply answers, sends in flight at a reply, review assignment, auto-replies

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07 14:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import engine.dbtypes

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("in_flight_step", sa.Integer(), nullable=True))
        batch_op.create_index(
            "ix_messages_in_flight",
            ["in_flight_step"],
            unique=False,
            sqlite_where=sa.text("in_flight_step IS NOT NULL"),
            postgresql_where=sa.text("in_flight_step IS NOT NULL"),
        )
    # Replies stored before this revision answer the last step recorded before them.
    op.execute(
        """
        UPDATE messages SET step = (
            SELECT max(o.step) FROM messages AS o
            WHERE o.enrollment_id = messages.enrollment_id AND o.direction = 'out'
              AND o.step IS NOT NULL AND o.id < messages.id
        )
        WHERE direction = 'in' AND enrollment_id IS NOT NULL AND step IS NULL
        """
    )

    with op.batch_alter_table("review_flags", schema=None) as batch_op:
        batch_op.add_column(sa.Column("assigned_to", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("assigned_at", engine.dbtypes.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("resolved_by", sa.String(length=64), nullable=True))

    op.create_table(
        "auto_replies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lead_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("enrollment_id", sa.Integer(), nullable=True),
        sa.Column("phone_id", sa.String(length=2), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=True),
        sa.Column("rule", sa.String(length=32), nullable=False),
        sa.Column("text", sa.String(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("due_at", engine.dbtypes.UTCDateTime(), nullable=False),
        sa.Column("queued_at", engine.dbtypes.UTCDateTime(), nullable=True),
        sa.Column("sent_at", engine.dbtypes.UTCDateTime(), nullable=True),
        sa.Column("message_uid", sa.String(length=64), nullable=True),
        sa.Column("error", sa.String(), nullable=True),
        sa.Column("created_at", engine.dbtypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", engine.dbtypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["enrollment_id"], ["enrollments.id"]),
        sa.ForeignKeyConstraint(["lead_id"], ["leads.id"]),
        sa.ForeignKeyConstraint(["message_id"], ["messages.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("lead_id"),
    )
    with op.batch_alter_table("auto_replies", schema=None) as batch_op:
        batch_op.create_index("ix_auto_replies_dispatch", ["state", "due_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("auto_replies", schema=None) as batch_op:
        batch_op.drop_index("ix_auto_replies_dispatch")
    op.drop_table("auto_replies")
    with op.batch_alter_table("review_flags", schema=None) as batch_op:
        batch_op.drop_column("resolved_by")
        batch_op.drop_column("assigned_at")
        batch_op.drop_column("assigned_to")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index("ix_messages_in_flight")
        batch_op.drop_column("in_flight_step")
