"""phone health: each phone's latest first messages, replies and invalid numbers by index

Each phone's health (``phones list``, ``status``, the console's overview) reads its
latest first messages, replies and invalid numbers: three partial indexes, each holding
only the rows of one figure by phone and time, so each phone's read walks its own rows
newest first and stops after a few (an index of all messages made a phone with many
newer follow-ups walk past all of them: 5 s at 2.6 million messages).

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
_FIRST = "direction = 'out' AND step = 0"
_REPLY = "direction = 'in'"


def upgrade() -> None:
    for name, where in (("ix_messages_first_sent", _FIRST), ("ix_messages_replies_sent", _REPLY)):
        op.create_index(
            name,
            "messages",
            ["phone_id", "sent_at", "id"],
            unique=False,
            sqlite_where=sa.text(where),
            postgresql_where=sa.text(where),
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
    op.drop_index("ix_messages_replies_sent", table_name="messages")
    op.drop_index("ix_messages_first_sent", table_name="messages")
