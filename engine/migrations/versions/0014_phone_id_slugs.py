"""phone id slugs: a phone id is up to 32 characters, not two digits

Phone ids are short slugs now (:mod:`engine.settings.phone_ids`), so every column
holding one widens from VARCHAR(2) to VARCHAR(32). Widening a VARCHAR keeps every
stored id. SQLite does not enforce the length and keeps the text as it was; rebuilding
its tables to change the declared type would break the foreign keys to ``phones`` (see
0004), so the declaration is edited in place, the way SQLite documents for a change that
leaves the stored rows as they are (``PRAGMA writable_schema``; VARCHAR(2) and
VARCHAR(32) have the same TEXT affinity).

Revision ID: 0014
Revises: 0013
Create Date: 2027-02-10 12:00:00.000000
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

# (table, column): the phones' own key first, then the columns referring to it.
_COLUMNS = (
    ("phones", "id"),
    ("enrollments", "phone_id"),
    ("messages", "phone_id"),
    ("quota_usage", "phone_id"),
    ("auto_replies", "phone_id"),
    ("alerts", "phone_id"),
)


def upgrade() -> None:
    _retype(sa.String(length=2), sa.String(length=32))


def downgrade() -> None:
    # Refused by PostgreSQL while an id longer than two characters is stored.
    _retype(sa.String(length=32), sa.String(length=2))


def _retype(old: sa.String, new: sa.String) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        for table, column in _COLUMNS:
            op.alter_column(table, column, type_=new, existing_type=old)
        return
    version = bind.exec_driver_sql("PRAGMA schema_version").scalar_one()
    bind.exec_driver_sql("PRAGMA writable_schema=ON")
    for table, column in _COLUMNS:
        sql = bind.execute(
            sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :t"),
            {"t": table},
        ).scalar_one()
        declared = re.compile(rf"\b{column} VARCHAR\({old.length}\)")
        bind.execute(
            sa.text("UPDATE sqlite_master SET sql = :sql WHERE type = 'table' AND name = :t"),
            {"sql": declared.sub(f"{column} VARCHAR({new.length})", sql, count=1), "t": table},
        )
    # A new schema version makes every connection read the edited declarations.
    bind.exec_driver_sql(f"PRAGMA schema_version={int(version) + 1}")
    bind.exec_driver_sql("PRAGMA writable_schema=OFF")
