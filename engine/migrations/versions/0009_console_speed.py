"""console speed: the phones' queue depth read from an index of the steps in flight

``phone_rows`` (the status view, the console's overview) counts each phone's queued and
sending steps on every read. Without an index that leads with ``step_state`` that is a
scan of every enrollment (28 ms at 1,000,000); this partial index holds only the steps
in flight (a few per phone), so the count reads a handful of entries.

Revision ID: 0009
Revises: 0008
Create Date: 2027-01-10 12:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_IN_FLIGHT = "step_state IN ('queued', 'sending')"


def upgrade() -> None:
    op.create_index(
        "ix_enrollments_in_flight",
        "enrollments",
        ["phone_id"],
        unique=False,
        sqlite_where=sa.text(_IN_FLIGHT),
        postgresql_where=sa.text(_IN_FLIGHT),
    )


def downgrade() -> None:
    op.drop_index("ix_enrollments_in_flight", table_name="enrollments")
