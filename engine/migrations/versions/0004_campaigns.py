"""campaigns as their own objects: an id, a unique name, a lead selection, phones, a start

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07 17:30:00.000000

Each existing campaign (one per sequence) becomes the campaign named after its
sequence, with its state; a sequence with enrollments but no campaign row gets one
too: ``paused`` if some of its enrollments still run (the dispatcher never moved them,
so a person decides with ``campaign resume``), else ``completed``. Every enrollment
points at the campaign of its sequence, and is unique per (lead, campaign) instead of
per (lead, sequence).

SQLite cannot add a NOT NULL foreign key to a table, and rebuilding ``enrollments``
the usual way (copy, drop, rename) breaks the foreign keys of ``messages``,
``review_flags`` and ``auto_replies`` while they are enforced inside the migration's
transaction. So its rows are copied aside, the table is created again under its own
name and filled back (which satisfies the deferred checks), then the copy is dropped.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

import engine.dbtypes

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_RUNNING = "state IN ('pending', 'active')"


def _campaigns_table() -> None:
    op.create_table(
        "campaigns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("sequence", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("tag", sa.String(length=64), nullable=True),
        sa.Column("leads_file", sa.String(), nullable=True),
        sa.Column("phone_ids", sa.String(), nullable=True),
        sa.Column("starts_at", engine.dbtypes.UTCDateTime(), nullable=True),
        sa.Column("created_at", engine.dbtypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", engine.dbtypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )


def _existing_campaigns(bind: sa.Connection) -> list[dict[str, Any]]:
    """The campaigns to keep: one per sequence that has a campaign row or enrollments."""
    rows = {
        sequence: {"state": state, "created_at": created, "updated_at": updated}
        for sequence, state, created, updated in bind.execute(sa.select(_old_campaigns()))
    }
    orphans = bind.execute(
        sa.text(
            "SELECT sequence, MAX(CASE WHEN state IN ('pending', 'active') THEN 1 ELSE 0 END) "
            "FROM enrollments GROUP BY sequence"
        )
    ).all()
    now = datetime.now(UTC)
    for sequence, running in orphans:
        if sequence not in rows:
            state = "paused" if running else "completed"
            rows[sequence] = {"state": state, "created_at": now, "updated_at": now}
    return [
        {"name": sequence, "sequence": sequence, **values}
        for sequence, values in sorted(rows.items())
    ]


def _old_campaigns() -> sa.TableClause:
    """The columns both shapes of ``campaigns`` share, typed (SQLite returns text otherwise)."""
    return sa.table(
        "campaigns",
        sa.column("sequence", sa.String()),
        sa.column("state", sa.String()),
        sa.column("created_at", engine.dbtypes.UTCDateTime()),
        sa.column("updated_at", engine.dbtypes.UTCDateTime()),
    )


def upgrade() -> None:
    bind = op.get_bind()
    keep = _existing_campaigns(bind)
    op.drop_table("campaigns")
    _campaigns_table()
    table = sa.table(
        "campaigns",
        sa.column("name", sa.String()),
        sa.column("sequence", sa.String()),
        sa.column("state", sa.String()),
        sa.column("created_at", engine.dbtypes.UTCDateTime()),
        sa.column("updated_at", engine.dbtypes.UTCDateTime()),
    )
    if keep:
        op.bulk_insert(table, keep)
    if bind.dialect.name == "sqlite":
        _sqlite_enrollments()
    else:
        _postgresql_enrollments()


def _postgresql_enrollments() -> None:
    op.add_column("enrollments", sa.Column("campaign_id", sa.Integer(), nullable=True))
    op.execute(
        "UPDATE enrollments SET campaign_id = "
        "(SELECT c.id FROM campaigns AS c WHERE c.name = enrollments.sequence)"
    )
    op.alter_column("enrollments", "campaign_id", nullable=False)
    op.create_foreign_key(
        "enrollments_campaign_id_fkey", "enrollments", "campaigns", ["campaign_id"], ["id"]
    )
    op.drop_index("uq_enrollments_lead_sequence", table_name="enrollments")
    _new_indexes()


def _new_indexes() -> None:
    op.create_index(
        "uq_enrollments_lead_campaign", "enrollments", ["lead_id", "campaign_id"], unique=True
    )
    op.create_index(
        "ix_enrollments_campaign_state", "enrollments", ["campaign_id", "state"], unique=False
    )


def _enrollments_table(*, with_campaign: bool = True) -> None:
    campaign = [sa.Column("campaign_id", sa.Integer(), nullable=False)] if with_campaign else []
    foreign = [sa.ForeignKeyConstraint(["campaign_id"], ["campaigns.id"])] if with_campaign else []
    op.create_table(
        "enrollments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lead_id", sa.Integer(), nullable=False),
        *campaign,
        sa.Column("sequence", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("step_state", sa.String(length=16), nullable=False),
        sa.Column("due_at", engine.dbtypes.UTCDateTime(), nullable=True),
        sa.Column("queued_at", engine.dbtypes.UTCDateTime(), nullable=True),
        sa.Column("sending_at", engine.dbtypes.UTCDateTime(), nullable=True),
        sa.Column("phone_id", sa.String(length=2), nullable=True),
        sa.Column("chat_id", sa.BigInteger(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(), nullable=True),
        sa.Column("end_reason", sa.String(), nullable=True),
        sa.Column("ended_at", engine.dbtypes.UTCDateTime(), nullable=True),
        sa.Column("created_at", engine.dbtypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", engine.dbtypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["lead_id"], ["leads.id"]),
        sa.ForeignKeyConstraint(["phone_id"], ["phones.id"]),
        *foreign,
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_enrollments_chat", "enrollments", ["chat_id"], unique=False)
    op.create_index(
        "ix_enrollments_dispatch", "enrollments", ["state", "step_state", "due_at"], unique=False
    )
    op.create_index(
        "ix_enrollments_phone_state", "enrollments", ["phone_id", "state"], unique=False
    )
    op.create_index(
        "ix_enrollments_sequence_state", "enrollments", ["sequence", "state"], unique=False
    )
    op.create_index(
        "uq_enrollments_one_running_per_lead",
        "enrollments",
        ["lead_id"],
        unique=True,
        sqlite_where=sa.text(_RUNNING),
        postgresql_where=sa.text(_RUNNING),
    )
    if with_campaign:
        _new_indexes()
    else:
        op.create_index(
            "uq_enrollments_lead_sequence", "enrollments", ["lead_id", "sequence"], unique=True
        )


def _deferred_checks() -> None:
    """Check foreign keys at the end of the transaction, not per statement.

    The driver opens a transaction only before a data change, and the pragma ends with
    the transaction, so a savepoint opens one first (or nests in the one open); its
    release is where the checks run (a commit, when it opened the transaction).
    """
    op.execute("SAVEPOINT rebuild_enrollments")
    op.execute("PRAGMA defer_foreign_keys = ON")


def _sqlite_enrollments() -> None:
    # The rows that messages, review flags and answers point at are gone between the
    # drop and the refill, and back (same ids) before the checks run.
    _deferred_checks()
    op.execute("CREATE TABLE _enrollments_0004 AS SELECT * FROM enrollments")
    op.drop_table("enrollments")
    _enrollments_table()
    op.execute(
        "INSERT INTO enrollments (id, lead_id, sequence, state, step, step_state, due_at, "
        "queued_at, sending_at, phone_id, chat_id, attempts, last_error, end_reason, ended_at, "
        "created_at, updated_at, campaign_id) "
        "SELECT o.id, o.lead_id, o.sequence, o.state, o.step, o.step_state, o.due_at, "
        "o.queued_at, o.sending_at, o.phone_id, o.chat_id, o.attempts, o.last_error, "
        "o.end_reason, o.ended_at, o.created_at, o.updated_at, "
        "(SELECT c.id FROM campaigns AS c WHERE c.name = o.sequence) FROM _enrollments_0004 AS o"
    )
    op.execute("DROP TABLE _enrollments_0004")
    op.execute("RELEASE SAVEPOINT rebuild_enrollments")


def downgrade() -> None:
    bind = op.get_bind()
    shared = bind.execute(
        sa.text("SELECT sequence FROM campaigns GROUP BY sequence HAVING COUNT(*) > 1")
    ).scalars()
    several = sorted(str(name) for name in shared)
    if several:
        raise RuntimeError(
            "cannot go back to one campaign per sequence: several campaigns run "
            + ", ".join(several)
        )
    kept = bind.execute(sa.select(_old_campaigns())).all()
    if bind.dialect.name == "sqlite":
        _deferred_checks()
        op.execute("CREATE TABLE _enrollments_0004 AS SELECT * FROM enrollments")
        op.drop_table("enrollments")
        _enrollments_table(with_campaign=False)
        op.execute(
            "INSERT INTO enrollments (id, lead_id, sequence, state, step, step_state, due_at, "
            "queued_at, sending_at, phone_id, chat_id, attempts, last_error, end_reason, "
            "ended_at, created_at, updated_at) "
            "SELECT id, lead_id, sequence, state, step, step_state, due_at, queued_at, "
            "sending_at, phone_id, chat_id, attempts, last_error, end_reason, ended_at, "
            "created_at, updated_at FROM _enrollments_0004"
        )
        op.execute("DROP TABLE _enrollments_0004")
        op.execute("RELEASE SAVEPOINT rebuild_enrollments")
    else:
        op.drop_index("ix_enrollments_campaign_state", table_name="enrollments")
        op.drop_index("uq_enrollments_lead_campaign", table_name="enrollments")
        op.drop_constraint("enrollments_campaign_id_fkey", "enrollments", type_="foreignkey")
        op.drop_column("enrollments", "campaign_id")
        op.create_index(
            "uq_enrollments_lead_sequence", "enrollments", ["lead_id", "sequence"], unique=True
        )
    op.drop_table("campaigns")
    op.create_table(
        "campaigns",
        sa.Column("sequence", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", engine.dbtypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", engine.dbtypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("sequence"),
    )
    table = _old_campaigns()
    rows = [
        # The states before this revision: no drafts, no scheduled campaigns.
        {"sequence": s, "state": "paused" if state in ("draft", "scheduled") else state,
         "created_at": created, "updated_at": updated}
        for s, state, created, updated in kept
    ]  # fmt: skip
    if rows:
        op.bulk_insert(table, rows)
