"""The database tables, defined once as SQLAlchemy Core objects: the schema and the one
name of each table for every query.

States are plain strings (:mod:`engine.states`) so a new state is a code change, not a
schema change. Timestamps are stored as UTC and always come back timezone-aware. The
indexes serve the dispatcher's due-step scan, the webhook's lookups and the status
reports; the unique constraints are invariants the database itself enforces (one
running enrollment per lead, one enrollment per (lead, campaign), one outbound message
per (enrollment, step), one row per webhook event, one review flag per reply).

Core, not ORM classes, on purpose: the send path, the receiver, the dispatcher, the
reports and the campaign statements build Core statements (set-based, compiled once),
and a command that only reads (``outreach status``, ``phones list``) loads SQLAlchemy's
core alone, without its ORM, SQLModel or pydantic (about a third of its start-up).
:mod:`engine.models` maps ORM classes onto these tables for the code that wants objects.

=====  ===================  =====  ===================
``P``  phones               ``M``  messages
``L``  leads                ``Q``  quota_usage
``T``  lead_tags            ``W``  webhook_events
``C``  campaigns            ``R``  review_flags
``E``  enrollments          ``AR`` auto_replies
``S``  suppressions         ``A``  alerts
``IS`` install_secrets     ``CS`` console_sessions
``CA`` console_actions      ``FS`` funnel_snapshots
``FC`` funnel_snapshot_campaigns
=====  ===================  =====  ===================
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    ColumnElement,
    Connection,
    Date,
    ForeignKey,
    FromClause,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    and_,
    literal_column,
    or_,
    text,
)

from engine.company_keys import COMPANY_KEY_CHARS, company_key
from engine.dbtypes import UTCDateTime
from engine.lead_names import NAME_KEY_CHARS, name_key
from engine.settings.phone_ids import PHONE_ID_MAX_CHARS as PHONE_ID_CHARS
from engine.settings.phone_ids import sorted_phone_ids
from engine.states import (
    RUNNING_STATES,
    AutoReplyState,
    CampaignState,
    Direction,
    EnrollmentState,
    PhoneState,
    StepState,
)

__all__ = [
    "AR", "CA", "CS", "FC", "FS", "IS", "A", "C", "E", "L", "M", "P", "Q", "R", "S", "T", "W",
    "first_message", "insert_for", "metadata", "phone_ids_column", "phone_ids_of", "running",
    "use_postgresql",
]  # fmt: skip

metadata = MetaData()
"""Every table; what the migrations are checked against (``tests/engine/test_storage.py``)."""


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _id() -> Column[int]:
    return Column("id", Integer, primary_key=True)


def _text(
    name: str, length: int | None = None, *, nullable: bool = True, **kwargs: Any
) -> Column[str]:
    """A string column, ``length`` characters at most (``None``: unbounded)."""
    return Column(name, String(length), nullable=nullable, **kwargs)


def _int(name: str, *, nullable: bool = False, **kwargs: Any) -> Column[int]:
    return Column(name, Integer, nullable=nullable, **kwargs)


def _ts(name: str, *, nullable: bool = True, **kwargs: Any) -> Column[datetime]:
    """A timestamp column (UTC, read back aware)."""
    return Column(name, UTCDateTime, nullable=nullable, **kwargs)


def _created(name: str = "created_at", **kwargs: Any) -> Column[datetime]:
    """When the row was made (or last changed: ``updated_at``), by default now."""
    return _ts(name, nullable=False, default=_utcnow, **kwargs)


_POSTGRESQL_OPTIONS: list[tuple[Index, dict[str, Any]]] = []
"""The indexes' PostgreSQL options, given to them by :func:`use_postgresql`."""


def _on_postgresql(index: Index, **options: Any) -> Index:
    """``index`` with ``options`` (``where=``, ``using=``, ...) on PostgreSQL.

    Given when a process first uses PostgreSQL, not here: naming a dialect's option on an
    index makes SQLAlchemy import that dialect, and PostgreSQL's costs a process on the
    embedded SQLite ~20 ms of its start-up (``outreach status``) for DDL it never emits.
    """
    _POSTGRESQL_OPTIONS.append((index, options))
    return index


def use_postgresql() -> None:
    """Give the indexes their PostgreSQL options (partial conditions, the trigram
    index's operator class). Called wherever an engine for PostgreSQL is made
    (:func:`engine.db.create_db_engine`, the migrations' own), before any DDL or schema
    comparison; doing it again changes nothing."""
    for index, options in _POSTGRESQL_OPTIONS:
        index.dialect_options["postgresql"].update(options)


def _partial(name: str, *columns: str, where: str, unique: bool = False) -> Index:
    """An index over the rows ``where`` holds only, on both SQLite and PostgreSQL."""
    condition = text(where)
    index = Index(name, *columns, unique=unique, sqlite_where=condition)
    return _on_postgresql(index, where=condition)


_RUNNING_SQL = "state IN (" + ", ".join(f"'{s}'" for s in sorted(RUNNING_STATES)) + ")"
_IN_FLIGHT_SQL = (
    "step_state IN (" + ", ".join(f"'{s}'" for s in (StepState.QUEUED, StepState.SENDING)) + ")"
)
_INVALID_SQL = f"state = '{EnrollmentState.INVALID_NUMBER.value}'"
_REPLY_SQL = f"direction = '{Direction.IN.value}'"


P = Table(
    "phones",
    metadata,
    # The runtime state of one of our WhatsApp numbers (its settings live in the config).
    _text("id", PHONE_ID_CHARS, primary_key=True, nullable=False),
    _text("phone", 20, nullable=False, unique=True),
    _text("account_id", 64),
    _text("state", 16, nullable=False, default=PhoneState.ACTIVE),
    _text("state_reason"),
    _ts("state_changed_at"),
    _ts("next_send_at"),
    _ts("last_send_at"),
    _int("sent_total", default=0),
    _int("failures_total", default=0),
    _created(),
    # The breaker (phones.breaker): trips so far, the last one, the end of its cooling.
    _int("trips", default=0, server_default="0"),
    _ts("tripped_at"),
    _ts("cooling_until"),
)


def _name_key_of_row(context: Any) -> str | None:
    """The default of ``leads.name_key`` in an insert that does not give it: made from
    the row's ``variables``."""
    row: dict[str, Any] = context.get_current_parameters()
    variables = row.get("variables")
    return name_key(variables if isinstance(variables, dict) else None)


def _company_key_of_row(context: Any) -> str | None:
    """The default of ``leads.company_key`` in an insert that does not give it."""
    row: dict[str, Any] = context.get_current_parameters()
    variables = row.get("variables")
    return company_key(variables if isinstance(variables, dict) else None)


L = Table(
    "leads",
    metadata,
    # A person we may write to; ``variables`` are the import's columns, for templates.
    _id(),
    _text("phone", 20, nullable=False, unique=True),
    Column("variables", JSON, nullable=False, default=dict),
    _text("timezone", 64),
    _text("region", 2),
    _created(),
    _created("updated_at"),
    # The lead's name as a search compares it (:func:`engine.lead_names.name_key`):
    # written with ``variables`` by every insert (the column's default), by the import's
    # updates and by the ORM (``engine.models``).
    _text("name_key", NAME_KEY_CHARS, default=_name_key_of_row),
    # The lead's company as its colleagues share it (:func:`engine.company_keys.company_key`),
    # kept with ``variables`` the way ``name_key`` is.
    _text("company_key", COMPANY_KEY_CHARS, default=_company_key_of_row),
    # Finds a part of a name: a trigram index on PostgreSQL (migration 0008 creates the
    # pg_trgm extension), a plain one on SQLite.
    _on_postgresql(
        Index("ix_leads_name_key", "name_key"), using="gin", ops={"name_key": "gin_trgm_ops"}
    ),
    # A reply finds the replying lead's colleagues (migration 0011).
    Index("ix_leads_company_key", "company_key"),
)  # fmt: skip

T = Table(
    "lead_tags",
    metadata,
    # A tag given to a lead at import (``--tag``), to pick leads for a campaign.
    Column("lead_id", Integer, ForeignKey("leads.id", ondelete="CASCADE"), primary_key=True),
    _text("tag", 64, primary_key=True, nullable=False, index=True),
)

C = Table(
    "campaigns",
    metadata,
    # A named run of a sequence: the leads it was launched for (as given, for the
    # record), the phones it may start conversations from, its start, and its state.
    # Several campaigns may run the same sequence; each enrollment belongs to one
    # campaign. ``phone_ids`` is a comma-separated list (``"01,02"``); ``None`` means
    # every phone (:func:`phone_ids_of`).
    _id(),
    _text("name", 64, nullable=False, unique=True),
    _text("sequence", 64, nullable=False),
    _text("state", 16, nullable=False, default=CampaignState.ACTIVE),
    _text("tag", 64),
    _text("leads_file"),
    _text("phone_ids"),
    _ts("starts_at"),
    _created(),
    _created("updated_at"),
)


def phone_ids_of(column: str | None) -> frozenset[str] | None:
    """The phones a campaign may start conversations from (``None``: every phone)."""
    if column is None:
        return None
    return frozenset(part for part in column.split(",") if part)


def phone_ids_column(phone_ids: Iterable[str] | None) -> str | None:
    """How ``campaigns.phone_ids`` stores a subset of phones: in natural order, comma-separated."""
    return None if phone_ids is None else ",".join(sorted_phone_ids(set(phone_ids)))


E = Table(
    "enrollments",
    metadata,
    # A lead's journey through one campaign's sequence: its state, current step and when
    # it is due. ``sequence`` is the campaign's (a campaign never changes its sequence).
    _id(),
    Column("lead_id", Integer, ForeignKey("leads.id"), nullable=False),
    Column("campaign_id", Integer, ForeignKey("campaigns.id"), nullable=False),
    _text("sequence", 64, nullable=False),
    _text("state", 16, nullable=False, default=EnrollmentState.PENDING),
    _int("step", default=0),
    _text("step_state", 16, nullable=False, default=StepState.DUE),
    _ts("due_at"),
    _ts("queued_at"),
    _ts("sending_at"),
    Column("phone_id", String(PHONE_ID_CHARS), ForeignKey("phones.id"), nullable=True),
    Column("chat_id", BigInteger, nullable=True),
    _int("attempts", default=0),
    _text("last_error"),
    _text("end_reason"),
    _ts("ended_at"),
    _created(),
    _created("updated_at"),
    Index("uq_enrollments_lead_campaign", "lead_id", "campaign_id", unique=True),
    # A lead is in at most one running sequence: the database refuses a second one.
    _partial("uq_enrollments_one_running_per_lead", "lead_id", where=_RUNNING_SQL, unique=True),
    # The dispatcher's scan: running enrollments whose step is due, oldest first.
    Index("ix_enrollments_dispatch", "state", "step_state", "due_at"),
    Index("ix_enrollments_phone_state", "phone_id", "state"),
    # Each phone's queue depth (steps queued or sending): a few rows, counted on every
    # status view and console overview.
    _partial("ix_enrollments_in_flight", "phone_id", where=_IN_FLIGHT_SQL),
    Index("ix_enrollments_sequence_state", "sequence", "state"),
    Index("ix_enrollments_campaign_state", "campaign_id", "state"),
    Index("ix_enrollments_chat", "chat_id"),
    # Each phone's latest invalid numbers (its health): a few rows per phone.
    _partial("ix_enrollments_invalid", "phone_id", "ended_at", "id", where=_INVALID_SQL),
)

M = Table(
    "messages",
    metadata,
    # One WhatsApp message we sent (``out``) or received (``in``).
    _id(),
    _text("direction", 3, nullable=False),
    Column("enrollment_id", Integer, ForeignKey("enrollments.id"), nullable=True),
    _int("step", nullable=True),
    Column("lead_id", Integer, ForeignKey("leads.id"), nullable=True),
    _text("phone_id", PHONE_ID_CHARS),
    Column("chat_id", BigInteger, nullable=True),
    _text("message_uid", 64, unique=True),
    _text("text", nullable=False, default=""),
    _int("template_variant", nullable=True),
    _text("variant_id", 32),
    _text("content_hash", 64),
    _text("status", 16, nullable=False, default="queued"),
    _ts("sent_at"),
    _ts("delivered_at"),
    _ts("read_at"),
    _ts("failed_at"),
    _text("error"),
    _text("intent", 32),
    Column("attachments", JSON, nullable=True),
    _created(),
    # The other end of the chat (the lead's number, or an unknown sender's) in E.164.
    _text("peer_phone", 20),
    # Where TimelinesAI says the message came from (API, WhatsApp, ...), when it says.
    _text("origin", 32),
    # Every named intent a reply matched; ``intent`` holds its class for reports.
    Column("intents", JSON, nullable=True),
    _ts("classified_at"),
    # A reply's ``step`` is the step it answers: the last one recorded as sent before it.
    # ``in_flight_step`` is a step that was being sent (claimed, not yet recorded) when
    # the reply committed: that send finishes after the reply, and only that one may.
    _int("in_flight_step", nullable=True),
    # At most one outbound message per (enrollment, step), whatever crashes or retries.
    _partial(
        "uq_messages_enrollment_step_out", "enrollment_id", "step",
        where="direction = 'out'", unique=True,
    ),
    Index("ix_messages_status_sent", "direction", "status", "sent_at"),
    # Sends by day over a range of days, whatever their status (the console's charts).
    Index("ix_messages_direction_sent", "direction", "sent_at"),
    Index("ix_messages_chat", "chat_id"),
    Index("ix_messages_lead", "lead_id"),
    # Each phone's latest replies (its health), newest first; its first messages' index
    # follows the table (:func:`first_message`).
    _partial("ix_messages_replies_sent", "phone_id", "sent_at", "id", where=_REPLY_SQL),
    # Replies still to classify (the sweep that re-queues lost classifications).
    Index("ix_messages_unclassified", "direction", "classified_at"),
    # Sends in flight when a reply came: few, counted on every metrics scrape.
    _partial("ix_messages_in_flight", "in_flight_step", where="in_flight_step IS NOT NULL"),
    # When its delivery status was last read (a poll of the delivery sync, or a webhook
    # that set it): the breaker counts a first message as not delivered only on a
    # reading taken after its grace period ended (phones.health.outcome).
    _ts("status_read_at"),
)  # fmt: skip


def first_message(messages: FromClause = M) -> ColumnElement[bool]:
    """The row of ``messages`` (the table or an alias of it) is a first message a phone
    sent: ``direction = 'out' AND step = 0``.

    The one definition of it, for the partial index below and every query that counts
    a phone's first messages. The values are written into the SQL, not bound, so that
    PostgreSQL sees the index's predicate in every plan (a bound parameter hides it from
    a prepared generic plan) and SQLite matches it at all.
    """
    return and_(
        messages.c.direction == literal_column(f"'{Direction.OUT.value}'"),
        messages.c.step == literal_column("0"),
    )


# Each phone's latest first messages (its health, its hourly cap), newest first.
_FIRST = first_message(M)
_on_postgresql(
    Index("ix_messages_first_sent", M.c.phone_id, M.c.sent_at, M.c.id, sqlite_where=_FIRST),
    where=_FIRST,
)

Q = Table(
    "quota_usage",
    metadata,
    # New contacts a phone has started on one local day (the quota's source of truth).
    _text("phone_id", PHONE_ID_CHARS, primary_key=True, nullable=False),
    Column("day", Date, primary_key=True),
    _int("used", default=0),
)

W = Table(
    "webhook_events",
    metadata,
    # A TimelinesAI webhook delivery, stored once per dedupe key.
    _id(),
    _text("dedupe_key", 128, nullable=False, unique=True),
    _text("event_type", 64, nullable=False),
    Column("payload", JSON, nullable=False, default=dict),
    _created("received_at", index=True),
    _ts("processed_at"),
    _text("error"),
)

R = Table(
    "review_flags",
    metadata,
    # A reply a person should read: its priority (1 low .. 3 urgent) and what matched.
    _id(),
    Column("message_id", Integer, ForeignKey("messages.id"), nullable=False, unique=True),
    Column("lead_id", Integer, ForeignKey("leads.id"), nullable=True),
    Column("enrollment_id", Integer, ForeignKey("enrollments.id"), nullable=True),
    _int("priority", default=1),
    Column("reasons", JSON, nullable=False, default=dict),
    _created(),
    _ts("resolved_at"),
    _text("assigned_to", 64),
    _ts("assigned_at"),
    _text("resolved_by", 64),
    Index("ix_review_flags_open", "resolved_at", "priority"),
)

AR = Table(
    "auto_replies",
    metadata,
    # An automatic answer to a lead's reply (a rule's ``auto_reply``): at most one per
    # lead. Sent from the phone the lead talks to, under its lease, pacing and the
    # sequence's send window, by the phone's follow-up queue; the dispatcher queues it
    # when due.
    _id(),
    Column("lead_id", Integer, ForeignKey("leads.id"), nullable=False, unique=True),
    Column("message_id", Integer, ForeignKey("messages.id"), nullable=False),
    Column("enrollment_id", Integer, ForeignKey("enrollments.id"), nullable=True),
    _text("phone_id", PHONE_ID_CHARS, nullable=False),
    Column("chat_id", BigInteger, nullable=True),
    _text("rule", 32, nullable=False),
    _text("text", nullable=False),
    _text("state", 16, nullable=False, default=AutoReplyState.DUE),
    _ts("due_at", nullable=False),
    _ts("queued_at"),
    _ts("sent_at"),
    _text("message_uid", 64),
    _text("error"),
    _created(),
    _created("updated_at"),
    Index("ix_auto_replies_dispatch", "state", "due_at"),
)

S = Table(
    "suppressions",
    metadata,
    # A number we must never contact again (opt-out, or added by hand). ``phone`` is the
    # number in E.164, or for a forgotten lead its key (``#`` and 19 hex digits,
    # :func:`sequences.suppression.forgotten_key`), which the lead's row holds too.
    _text("phone", 20, primary_key=True, nullable=False),
    _text("reason", 64, nullable=False),
    _text("source"),
    _created(),
)

IS = Table(
    "install_secrets",
    metadata,
    # A random value made once per install and kept with its data (the salt of the keys
    # that stand for forgotten numbers on the suppression list).
    _text("name", 64, primary_key=True, nullable=False),
    _text("value", 128, nullable=False),
    _created(),
)

A = Table(
    "alerts",
    metadata,
    # Something an operator must know: a banned phone, a bad token, a dead letter.
    _id(),
    _text("kind", 64, nullable=False),
    _text("severity", 16, nullable=False, default="warning"),
    _text("phone_id", PHONE_ID_CHARS),
    _text("message", nullable=False),
    Column("details", JSON, nullable=True),
    _created(index=True),
    _ts("notified_at"),
)

CS = Table(
    "console_sessions",
    metadata,
    # A signed-in console visitor. The cookie holds a random token; only its SHA-256 is
    # stored, so a copy of the database signs nobody in. ``csrf`` is the token every form
    # of the session carries back.
    _text("token_hash", 64, primary_key=True, nullable=False),
    _text("user", 64, nullable=False),
    _text("role", 16, nullable=False),
    _text("csrf", 64, nullable=False),
    _created(),
    _ts("expires_at", nullable=False, index=True),
)

CA = Table(
    "console_actions",
    metadata,
    # Something a person did in the console (or tried and was refused), and who.
    _id(),
    _created("at", index=True),
    _text("user", 64, nullable=False),
    _text("action", 64, nullable=False),
    _text("target", 200),
    _text("detail"),
)


FS = Table(
    "funnel_snapshots",
    metadata,
    # The campaigns' funnels as the scheduler's ``funnel_snapshot`` job last computed
    # them (:func:`engine.funnel_snapshots.save_funnel_snapshot`), read by ``outreach status``
    # once the messages are too many to group on every call. One row per campaign and
    # funnel: ``kind`` ``step`` (``step`` set), ``phone`` (``phone_id`` set) or
    # ``variant`` (``step`` and ``variant`` set). Replaced whole on each run.
    _id(),
    Column("campaign_id", Integer, ForeignKey("campaigns.id", ondelete="CASCADE"), nullable=False),
    _text("kind", 8, nullable=False),
    _int("step", nullable=True),
    _text("phone_id", PHONE_ID_CHARS),
    _int("variant", nullable=True),
    _int("waiting"),
    _int("queued"),
    _int("sent"),
    _int("delivered"),
    _int("read"),
    _int("replied"),
    _ts("computed_at", nullable=False),
)

FC = Table(
    "funnel_snapshot_campaigns",
    metadata,
    # Per campaign, the rest of the same snapshot: its enrollments by state (JSON
    # ``{state: count}``), its dead letters and the leads who replied (each once).
    Column(
        "campaign_id", Integer, ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True
    ),
    Column("states", JSON, nullable=False),
    _int("dead_letters"),
    _int("replied_leads"),
    _ts("computed_at", nullable=False),
)


def running(state: ColumnElement[str] | None = None) -> ColumnElement[bool]:
    """``state`` (``enrollments.state`` by default) is one of :data:`RUNNING_STATES`.

    Written as equalities, not ``IN``: an expanding ``IN`` cannot be compiled once for
    the driver's cursor (:mod:`engine.driver_sql`), and PostgreSQL plans both alike.
    """
    column = E.c.state if state is None else state
    return or_(*(column == value for value in sorted(RUNNING_STATES)))


def insert_for(connection: Connection) -> Any:
    """The connection's dialect's ``INSERT``, the one with ``ON CONFLICT`` (SQLite and
    PostgreSQL spell the upsert alike; SQLAlchemy keeps it per dialect)."""
    # Imported here, the one in use: each dialect costs 5-20 ms, and a process uses one.
    if connection.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        return postgresql_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert
