"""forgotten numbers: the per-install salt of the keys that stand for them

A forgotten lead (``outreach leads forget``) keeps, in place of its number, a key made
from the number and a random salt of this install; the salt lives here, with the data,
so a restored backup still recognises the numbers it stands for. It is made the
first time a lead is forgotten.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-20 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import engine.dbtypes

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "install_secrets",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=128), nullable=False),
        sa.Column("created_at", engine.dbtypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    # Without the salt the keys of forgotten numbers match nothing: a re-import of such
    # a number would no longer be refused. Keep a backup before going back.
    op.drop_table("install_secrets")
