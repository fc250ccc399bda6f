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
    with op.batch_alter_table("phones") as batch_op:
        batch_op.add_column(sa.Column("trips", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("tripped_at", engine.dbtypes.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("cooling_until", engine.dbtypes.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("phones") as batch_op:
        batch_op.drop_column("cooling_until")
        batch_op.drop_column("tripped_at")
        batch_op.drop_column("trips")
