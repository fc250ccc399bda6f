"""sends by day: an index on the messages' direction and send time

The console charts the sends of each phone by day over a range of days, whatever
became of each message; ``ix_messages_status_sent`` puts the status between the two,
so a range of send times over every status was a scan of the whole table.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 20:10:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_messages_direction_sent", "messages", ["direction", "sent_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_messages_direction_sent", table_name="messages")
