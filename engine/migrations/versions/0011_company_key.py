"""company key: each lead's company kept as its colleagues share it, and an index

A reply pauses (or stops) the running sequences of the replying lead's colleagues:
the leads with the same company (``company_domain``, else ``company``). The company
lives in the lead's imported columns (JSON), so it is kept beside them in
``company_key`` (:func:`engine.company_keys.company_key`), filled here for the leads
already stored, with a plain index so a reply finds the colleagues without reading
every lead.

Revision ID: 0011
Revises: 0010
Create Date: 2027-01-27 12:00:00.000000
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

from engine.company_keys import COMPANY_KEY_CHARS, company_key

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

BATCH_ROWS = 5_000
INDEX = "ix_leads_company_key"


def upgrade() -> None:
    op.add_column(
        "leads", sa.Column("company_key", sa.String(length=COMPANY_KEY_CHARS), nullable=True)
    )
    _fill_company_keys()
    op.create_index(INDEX, "leads", ["company_key"])


def _fill_company_keys() -> None:
    """Every stored lead's key, in batches by id."""
    connection = op.get_bind()
    leads = sa.table(
        "leads", sa.column("id", sa.Integer), sa.column("variables", sa.JSON),
        sa.column("company_key", sa.String),
    )  # fmt: skip
    write = (
        sa.update(leads)
        .where(leads.c.id == sa.bindparam("lead_id"))
        .values(company_key=sa.bindparam("key"))
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
        keys = [{"lead_id": row.id, "key": company_key(_variables(row.variables))} for row in rows]
        grouped = [key for key in keys if key["key"] is not None]
        if grouped:
            connection.execute(write, grouped)
        after = rows[-1].id


def _variables(value: Any) -> dict[str, str] | None:
    if isinstance(value, str):  # a JSON text, as some drivers return it
        value = json.loads(value)
    return value if isinstance(value, dict) else None


def downgrade() -> None:
    op.drop_index(INDEX, table_name="leads")
    op.drop_column("leads", "company_key")
