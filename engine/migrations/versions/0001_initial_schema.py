"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-22 11:50:03.883951
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import engine.dbtypes

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("phone_id", sa.String(length=2), nullable=True),
        sa.Column("message", sa.String(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=True),
        sa.Column("created_at", engine.dbtypes.UTCDateTime(), nullable=False),
        sa.Column("notified_at", engine.dbtypes.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alerts_created_at"), ["created_at"], unique=False)

    op.create_table(
        "campaigns",
        sa.Column("sequence", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", engine.dbtypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", engine.dbtypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("sequence"),
    )
    op.create_table(
        "leads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("variables", sa.JSON(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=True),
        sa.Column("region", sa.String(length=2), nullable=True),
        sa.Column("created_at", engine.dbtypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", engine.dbtypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("phone"),
    )
    op.create_table(
        "phones",
        sa.Column("id", sa.String(length=2), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("state_reason", sa.String(), nullable=True),
        sa.Column("state_changed_at", engine.dbtypes.UTCDateTime(), nullable=True),
        sa.Column("next_send_at", engine.dbtypes.UTCDateTime(), nullable=True),
        sa.Column("last_send_at", engine.dbtypes.UTCDateTime(), nullable=True),
        sa.Column("sent_total", sa.Integer(), nullable=False),
        sa.Column("failures_total", sa.Integer(), nullable=False),
        sa.Column("created_at", engine.dbtypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("phone"),
    )
    op.create_table(
        "quota_usage",
        sa.Column("phone_id", sa.String(length=2), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("used", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("phone_id", "day"),
    )
    op.create_table(
        "suppressions",
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(), nullable=True),
        sa.Column("created_at", engine.dbtypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("phone"),
    )
    op.create_table(
        "webhook_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dedupe_key", sa.String(length=128), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("received_at", engine.dbtypes.UTCDateTime(), nullable=False),
        sa.Column("processed_at", engine.dbtypes.UTCDateTime(), nullable=True),
        sa.Column("error", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dedupe_key"),
    )
    with op.batch_alter_table("webhook_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_webhook_events_received_at"), ["received_at"], unique=False
        )

    op.create_table(
        "enrollments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lead_id", sa.Integer(), nullable=False),
        sa.Column("sequence", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("step_state", sa.String(length=16), nullable=False),
        sa.Column("due_at", engine.dbtypes.UTCDateTime(), nullable=True),
        sa.Column("queued_at", engine.dbtypes.UTCDateTime(), nullable=True),
        sa.Column("sending_at", engine.dbtypes.UTCDateTime(), nullable=True),
        sa.Column("phone_id", sa.String(length=2), nullable=True),
        sa.Column("chat_id", sa.BigInteger(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(), nullable=True),
        sa.Column("end_reason", sa.String(), nullable=True),
        sa.Column("ended_at", engine.dbtypes.UTCDateTime(), nullable=True),
        sa.Column("created_at", engine.dbtypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", engine.dbtypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["lead_id"],
            ["leads.id"],
        ),
        sa.ForeignKeyConstraint(
            ["phone_id"],
            ["phones.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("enrollments", schema=None) as batch_op:
        batch_op.create_index("ix_enrollments_chat", ["chat_id"], unique=False)
        batch_op.create_index(
            "ix_enrollments_dispatch", ["state", "step_state", "due_at"], unique=False
        )
        batch_op.create_index("ix_enrollments_phone_state", ["phone_id", "state"], unique=False)
        batch_op.create_index("ix_enrollments_sequence_state", ["sequence", "state"], unique=False)
        batch_op.create_index("uq_enrollments_lead_sequence", ["lead_id", "sequence"], unique=True)
        batch_op.create_index(
            "uq_enrollments_one_running_per_lead",
            ["lead_id"],
            unique=True,
            sqlite_where=sa.text("state IN ('pending', 'active')"),
            postgresql_where=sa.text("state IN ('pending', 'active')"),
        )

    op.create_table(
        "lead_tags",
        sa.Column("lead_id", sa.Integer(), nullable=False),
        sa.Column("tag", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["lead_id"], ["leads.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("lead_id", "tag"),
    )
    with op.batch_alter_table("lead_tags", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_lead_tags_tag"), ["tag"], unique=False)

    op.create_table(
        "messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("direction", sa.String(length=3), nullable=False),
        sa.Column("enrollment_id", sa.Integer(), nullable=True),
        sa.Column("step", sa.Integer(), nullable=True),
        sa.Column("lead_id", sa.Integer(), nullable=True),
        sa.Column("phone_id", sa.String(length=2), nullable=True),
        sa.Column("chat_id", sa.BigInteger(), nullable=True),
        sa.Column("message_uid", sa.String(length=64), nullable=True),
        sa.Column("text", sa.String(), nullable=False),
        sa.Column("template_variant", sa.Integer(), nullable=True),
        sa.Column("variant_id", sa.String(length=32), nullable=True),
        sa.Column("content_hash", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("sent_at", engine.dbtypes.UTCDateTime(), nullable=True),
        sa.Column("delivered_at", engine.dbtypes.UTCDateTime(), nullable=True),
        sa.Column("read_at", engine.dbtypes.UTCDateTime(), nullable=True),
        sa.Column("failed_at", engine.dbtypes.UTCDateTime(), nullable=True),
        sa.Column("error", sa.String(), nullable=True),
        sa.Column("intent", sa.String(length=32), nullable=True),
        sa.Column("attachments", sa.JSON(), nullable=True),
        sa.Column("created_at", engine.dbtypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["enrollment_id"],
            ["enrollments.id"],
        ),
        sa.ForeignKeyConstraint(
            ["lead_id"],
            ["leads.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("message_uid"),
    )
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.create_index("ix_messages_chat", ["chat_id"], unique=False)
        batch_op.create_index("ix_messages_lead", ["lead_id"], unique=False)
        batch_op.create_index(
            "ix_messages_status_sent", ["direction", "status", "sent_at"], unique=False
        )
        batch_op.create_index(
            "uq_messages_enrollment_step_out",
            ["enrollment_id", "step"],
            unique=True,
            sqlite_where=sa.text("direction = 'out'"),
            postgresql_where=sa.text("direction = 'out'"),
        )


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_messages_enrollment_step_out",
            sqlite_where=sa.text("direction = 'out'"),
            postgresql_where=sa.text("direction = 'out'"),
        )
        batch_op.drop_index("ix_messages_status_sent")
        batch_op.drop_index("ix_messages_lead")
        batch_op.drop_index("ix_messages_chat")

    op.drop_table("messages")
    with op.batch_alter_table("lead_tags", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lead_tags_tag"))

    op.drop_table("lead_tags")
    with op.batch_alter_table("enrollments", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_enrollments_one_running_per_lead",
            sqlite_where=sa.text("state IN ('pending', 'active')"),
            postgresql_where=sa.text("state IN ('pending', 'active')"),
        )
        batch_op.drop_index("uq_enrollments_lead_sequence")
        batch_op.drop_index("ix_enrollments_sequence_state")
        batch_op.drop_index("ix_enrollments_phone_state")
        batch_op.drop_index("ix_enrollments_dispatch")
        batch_op.drop_index("ix_enrollments_chat")

    op.drop_table("enrollments")
    with op.batch_alter_table("webhook_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_webhook_events_received_at"))

    op.drop_table("webhook_events")
    op.drop_table("suppressions")
    op.drop_table("quota_usage")
    op.drop_table("phones")
    op.drop_table("leads")
    op.drop_table("campaigns")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alerts_created_at"))

    op.drop_table("alerts")
