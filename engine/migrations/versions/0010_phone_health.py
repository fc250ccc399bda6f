"""phone health: each phone's latest first messages, replies and invalid numbers by index

Each phone's health (``phones list``, ``status``, the console's overview) reads its
latest first messages, replies and invalid numbers. ``ix_messages_phone_sent`` lets
each phone's read walk its own messages newest first and stop after a few rows;
``ix_enrollments_invalid`` holds only the enrollments that met an invalid number.

Revision ID: 0010
Revises: 0009
Create Date: 2027-01-20 12:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_INVALID = "state = 'invalid_number'"


def upgrade() -> None:
    op.create_index(
        "ix_messages_phone_sent",
        "messages",
        ["phone_id", "direction", "sent_at", "id"],
        unique=False,
    )
    op.create_index(
        "ix_enrollments_invalid",
        "enrollments",
        ["phone_id", "ended_at", "id"],
        unique=False,
        sqlite_where=sa.text(_INVALID),
        postgresql_where=sa.text(_INVALID),
    )


def downgrade() -> None:
    op.drop_index("ix_enrollments_invalid", table_name="enrollments")
    op.drop_index("ix_messages_phone_sent", table_name="messages")
