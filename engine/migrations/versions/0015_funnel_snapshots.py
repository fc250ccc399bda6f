"""funnel snapshots: the campaigns' funnels as the scheduler last computed them

``outreach status`` grouped every campaign's whole message history on each call, which
grows with the enrollments (seconds at 1,000,000). The scheduler's ``funnel_snapshot``
job now stores the result (:func:`engine.funnel_snapshots.save_funnel_snapshot`); status reads
it once the messages table is large (``[scheduler] live_funnel_max_messages``).

Revision ID: 0015
Revises: 0014
Create Date: 2027-02-11 12:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import engine.dbtypes

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "funnel_snapshots",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "campaign_id",
            sa.Integer(),
            sa.ForeignKey("campaigns.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("step", sa.Integer(), nullable=True),
        sa.Column("phone_id", sa.String(length=32), nullable=True),
        sa.Column("variant", sa.Integer(), nullable=True),
        *(
            sa.Column(name, sa.Integer(), nullable=False)
            for name in ("waiting", "queued", "sent", "delivered", "read", "replied")
        ),
        sa.Column("computed_at", engine.dbtypes.UTCDateTime(), nullable=False),
    )
    op.create_table(
        "funnel_snapshot_campaigns",
        sa.Column(
            "campaign_id",
            sa.Integer(),
            sa.ForeignKey("campaigns.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("states", sa.JSON(), nullable=False),
        sa.Column("dead_letters", sa.Integer(), nullable=False),
        sa.Column("replied_leads", sa.Integer(), nullable=False),
        sa.Column("computed_at", engine.dbtypes.UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("funnel_snapshot_campaigns")
    op.drop_table("funnel_snapshots")
