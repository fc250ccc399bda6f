"""phone breaker: how often each phone tripped, when last, and until when it cools

A phone whose health crosses a threshold of ``[breaker]`` cools for a while
(:mod:`phones.breaker`). Its row keeps the trips (each repeat trip cools twice as long),
the moment of the last one (only history after it counts towards the next) and the end
of the cooling.

Revision ID: 0012
Revises: 0011
Create Date: 2027-02-03 12:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import engine.dbtypes

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ALTERs (SQLite has had ADD and DROP COLUMN for years): a batch would copy the
    # phones table, which the enrollments' foreign keys forbid dropping.
    op.add_column("phones", sa.Column("trips", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("phones", sa.Column("tripped_at", engine.dbtypes.UTCDateTime(), nullable=True))
    op.add_column("phones", sa.Column("cooling_until", engine.dbtypes.UTCDateTime(), nullable=True))


def downgrade() -> None:
    for name in ("cooling_until", "tripped_at", "trips"):
        op.drop_column("phones", name)
