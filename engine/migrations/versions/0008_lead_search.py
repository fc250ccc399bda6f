"""lead search: each lead's name kept as a search compares it, and an index to find it

The console finds a lead by any part of its name. The name lives in the lead's
imported columns (JSON), so it is kept beside them, case folded, in ``name_key``
(:func:`engine.lead_names.name_key`, the rule every list uses), filled here for the
leads already stored. PostgreSQL indexes it by trigrams (``pg_trgm``, an extension a
database owner may create), which serves ``LIKE '%part%'`` without reading every
lead; SQLite gets a plain index, whose narrow scan is what it can offer.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-22 10:00:00.000000
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

from engine.lead_names import NAME_KEY_CHARS, name_key

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

BATCH_ROWS = 5_000
INDEX = "ix_leads_name_key"


def upgrade() -> None:
    op.add_column("leads", sa.Column("name_key", sa.String(length=NAME_KEY_CHARS), nullable=True))
    _fill_name_keys()
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.create_index(
            INDEX, "leads", ["name_key"], postgresql_using="gin",
            postgresql_ops={"name_key": "gin_trgm_ops"},
        )  # fmt: skip
    else:
        op.create_index(INDEX, "leads", ["name_key"])


def _fill_name_keys() -> None:
    """Every stored lead's key, in batches by id (a million leads take a minute)."""
    connection = op.get_bind()
    leads = sa.table(
        "leads", sa.column("id", sa.Integer), sa.column("variables", sa.JSON),
        sa.column("name_key", sa.String),
    )  # fmt: skip
    write = (
        sa.update(leads)
        .where(leads.c.id == sa.bindparam("lead_id"))
        .values(name_key=sa.bindparam("key"))
    )
    after = 0
    while True:
        rows = connection.execute(
            sa.select(leads.c.id, leads.c.variables)
            .where(leads.c.id > after)
            .order_by(leads.c.id)
            .limit(BATCH_ROWS)
        ).all()
        if not rows:
            return
        keys = [{"lead_id": row.id, "key": name_key(_variables(row.variables))} for row in rows]
        named = [key for key in keys if key["key"] is not None]
        if named:
            connection.execute(write, named)
        after = rows[-1].id


def _variables(value: Any) -> dict[str, str] | None:
    if isinstance(value, str):  # a JSON text, as some drivers return it
        value = json.loads(value)
    return value if isinstance(value, dict) else None


def downgrade() -> None:
    op.drop_index(INDEX, table_name="leads")
    op.drop_column("leads", "name_key")
