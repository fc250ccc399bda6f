"""sends by day: an index on the messages' direction and send time

The console charts the sends of each phone by day over a range of days, whatever
became of each message; ``ix_messages_status_sent`` puts the status between the two,
so a range of send times over every status was a scan of the whole table.

Revision ID: 0006
Revises: 0005
Create Date: 2027-01-10 10:00:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_messages_direction_sent", "messages", ["direction", "sent_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_messages_direction_sent", table_name="messages")
