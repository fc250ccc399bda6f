"""status readings: when each outbound message's delivery status was last read

The breaker's delivery rule (:mod:`phones.breaker`) counts a first message as not
delivered only if its status was read (by the delivery sync's poll, or a webhook that
set it) after its grace period (``[health] stuck_after_h``) had ended: a status nobody
has read since then says nothing, and a slow or stopped poll must not trip a healthy
phone. Existing messages keep no reading (``NULL``): they count once the next poll reads
them, or as delivered or failed if their status already says so.

Revision ID: 0013
Revises: 0012
Create Date: 2027-02-10 12:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import engine.dbtypes

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ALTER (SQLite has ADD COLUMN): a batch would copy the messages table.
    op.add_column(
        "messages", sa.Column("status_read_at", engine.dbtypes.UTCDateTime(), nullable=True)
    )


def downgrade() -> None:
    op.drop_column("messages", "status_read_at")
