"""The database tables: phones, leads, enrollments, messages, quotas, events, alerts.

States are plain strings (:mod:`engine.states`, re-exported here) so a new state is a
code change, not a schema change. Timestamps are stored as UTC and always come back
timezone-aware. The indexes serve the dispatcher's due-step scan, the webhook's
lookups and the status reports; the unique constraints are invariants the
database itself enforces (one running enrollment per lead, one enrollment per (lead,
campaign), one outbound message per (enrollment, step), one row per webhook event, one
review flag per reply).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, BigInteger, Index, event, text
from sqlalchemy.engine import Connection
from sqlalchemy.engine.default import DefaultExecutionContext
from sqlalchemy.orm import Mapper
from sqlmodel import Field, SQLModel

from engine.company_keys import COMPANY_KEY_CHARS, company_key
from engine.dbtypes import UTCDateTime
from engine.lead_names import NAME_KEY_CHARS, name_key
from engine.states import (
    END_STATES,
    RUNNING_STATES,
    AutoReplyState,
    CampaignState,
    Direction,
    EnrollmentState,
    PhoneState,
    StepState,
)

__all__ = [
    "END_STATES",
    "RUNNING_STATES",
    "Alert",
    "AutoReply",
    "AutoReplyState",
    "Campaign",
    "CampaignState",
    "ConsoleAction",
    "ConsoleSession",
    "Direction",
    "Enrollment",
    "EnrollmentState",
    "InstallSecret",
    "Lead",
    "LeadTag",
    "Message",
    "Phone",
    "PhoneState",
    "QuotaUsage",
    "ReviewFlag",
    "StepState",
    "Suppression",
    "WebhookEvent",
    "phone_ids_column",
    "phone_ids_of",
]


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _ts(nullable: bool = True, **kwargs: Any) -> Any:
    """A timestamp column (``sa_type`` for SQLModel's ``Field``)."""
    return Field(sa_type=UTCDateTime, nullable=nullable, **kwargs)


_RUNNING_SQL = "state IN (" + ", ".join(f"'{s}'" for s in sorted(RUNNING_STATES)) + ")"
_IN_FLIGHT_SQL = (
    "step_state IN (" + ", ".join(f"'{s}'" for s in (StepState.QUEUED, StepState.SENDING)) + ")"
)

_INVALID_SQL = f"state = '{EnrollmentState.INVALID_NUMBER.value}'"
_FIRST_SQL = f"direction = '{Direction.OUT.value}' AND step = 0"
_REPLY_SQL = f"direction = '{Direction.IN.value}'"


class Phone(SQLModel, table=True):
    """The runtime state of one of our WhatsApp numbers (its settings live in the config)."""

    __tablename__: ClassVar[str] = "phones"

    id: str = Field(primary_key=True, max_length=2)
    phone: str = Field(unique=True, max_length=20)
    account_id: str | None = Field(default=None, max_length=64)
    state: str = Field(default=PhoneState.ACTIVE, max_length=16)
    state_reason: str | None = None
    state_changed_at: datetime | None = _ts()
    next_send_at: datetime | None = _ts()
    last_send_at: datetime | None = _ts()
    sent_total: int = 0
    failures_total: int = 0
    created_at: datetime = _ts(nullable=False, default_factory=_utcnow)
    # The breaker (phones.breaker): trips so far, the last one, the end of its cooling.
    trips: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    tripped_at: datetime | None = _ts()
    cooling_until: datetime | None = _ts()


def _name_key_of_row(context: DefaultExecutionContext) -> str | None:
    """The default of ``leads.name_key`` in an insert that does not give it: made from
    the row's ``variables``."""
    row: dict[str, Any] = context.get_current_parameters()  # type: ignore[no-untyped-call]
    variables = row.get("variables")
    return name_key(variables if isinstance(variables, dict) else None)


def _company_key_of_row(context: DefaultExecutionContext) -> str | None:
    """The default of ``leads.company_key`` in an insert that does not give it."""
    row: dict[str, Any] = context.get_current_parameters()  # type: ignore[no-untyped-call]
    variables = row.get("variables")
    return company_key(variables if isinstance(variables, dict) else None)


class Lead(SQLModel, table=True):
    """A person we may write to; ``variables`` are the import's columns, for templates."""

    __tablename__: ClassVar[str] = "leads"
    # Finds a part of a name: a trigram index on PostgreSQL (migration 0008 creates the
    # pg_trgm extension), a plain one on SQLite.
    __table_args__ = (
        Index(
            "ix_leads_name_key", "name_key", postgresql_using="gin",
            postgresql_ops={"name_key": "gin_trgm_ops"},
        ),
        # A reply finds the replying lead's colleagues (migration 0011).
        Index("ix_leads_company_key", "company_key"),
    )  # fmt: skip

    id: int | None = Field(default=None, primary_key=True)
    phone: str = Field(unique=True, max_length=20)
    variables: dict[str, str] = Field(default_factory=dict, sa_type=JSON)
    timezone: str | None = Field(default=None, max_length=64)
    region: str | None = Field(default=None, max_length=2)
    created_at: datetime = _ts(nullable=False, default_factory=_utcnow)
    updated_at: datetime = _ts(nullable=False, default_factory=_utcnow)
    name_key: str | None = Field(
        default=None, max_length=NAME_KEY_CHARS,
        sa_column_kwargs={"default": _name_key_of_row},
    )  # fmt: skip
    """The lead's name as a search compares it (:func:`engine.lead_names.name_key`):
    written with ``variables`` by every insert (the column's default), by the import's
    updates and by the ORM (:func:`_keep_name_key`)."""
    company_key: str | None = Field(
        default=None, max_length=COMPANY_KEY_CHARS,
        sa_column_kwargs={"default": _company_key_of_row},
    )  # fmt: skip
    """The lead's company as its colleagues share it (:func:`engine.company_keys.company_key`),
    kept with ``variables`` the way ``name_key`` is."""


@event.listens_for(Lead, "before_insert")
@event.listens_for(Lead, "before_update")
def _keep_name_key(_: Mapper[Lead], __: Connection, lead: Lead) -> None:
    lead.name_key = name_key(lead.variables)
    lead.company_key = company_key(lead.variables)


class LeadTag(SQLModel, table=True):
    """A tag given to a lead at import (``--tag``), to pick leads for a campaign."""

    __tablename__: ClassVar[str] = "lead_tags"

    lead_id: int = Field(foreign_key="leads.id", primary_key=True, ondelete="CASCADE")
    tag: str = Field(primary_key=True, max_length=64, index=True)


class Campaign(SQLModel, table=True):
    """A named run of a sequence: the leads it was launched for (as given, for the record),
    the phones it may start conversations from, its start, and its state.

    Several campaigns may run the same sequence; each enrollment belongs to one campaign.
    ``phone_ids`` is a comma-separated list (``"01,02"``); ``None`` means every phone.
    """

    __tablename__: ClassVar[str] = "campaigns"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=64)
    sequence: str = Field(max_length=64)
    state: str = Field(default=CampaignState.ACTIVE, max_length=16)
    tag: str | None = Field(default=None, max_length=64)
    leads_file: str | None = None
    phone_ids: str | None = None
    starts_at: datetime | None = _ts()
    created_at: datetime = _ts(nullable=False, default_factory=_utcnow)
    updated_at: datetime = _ts(nullable=False, default_factory=_utcnow)


def phone_ids_of(column: str | None) -> frozenset[str] | None:
    """The phones a campaign may start conversations from (``None``: every phone)."""
    if column is None:
        return None
    return frozenset(part for part in column.split(",") if part)


def phone_ids_column(phone_ids: Iterable[str] | None) -> str | None:
    """How ``campaigns.phone_ids`` stores a subset of phones: sorted, comma-separated."""
    return None if phone_ids is None else ",".join(sorted(set(phone_ids)))


class Enrollment(SQLModel, table=True):
    """A lead's journey through one campaign's sequence: its state, current step and when
    it is due. ``sequence`` is the campaign's (a campaign never changes its sequence)."""

    __tablename__: ClassVar[str] = "enrollments"
    __table_args__ = (
        Index("uq_enrollments_lead_campaign", "lead_id", "campaign_id", unique=True),
        # A lead is in at most one running sequence: the database refuses a second one.
        Index(
            "uq_enrollments_one_running_per_lead",
            "lead_id",
            unique=True,
            sqlite_where=text(_RUNNING_SQL),
            postgresql_where=text(_RUNNING_SQL),
        ),
        # The dispatcher's scan: running enrollments whose step is due, oldest first.
        Index("ix_enrollments_dispatch", "state", "step_state", "due_at"),
        Index("ix_enrollments_phone_state", "phone_id", "state"),
        # Each phone's queue depth (steps queued or sending): a few rows, counted on
        # every status view and console overview.
        Index(
            "ix_enrollments_in_flight",
            "phone_id",
            sqlite_where=text(_IN_FLIGHT_SQL),
            postgresql_where=text(_IN_FLIGHT_SQL),
        ),
        Index("ix_enrollments_sequence_state", "sequence", "state"),
        Index("ix_enrollments_campaign_state", "campaign_id", "state"),
        Index("ix_enrollments_chat", "chat_id"),
        # Each phone's latest invalid numbers (its health): a few rows per phone.
        Index(
            "ix_enrollments_invalid",
            "phone_id",
            "ended_at",
            "id",
            sqlite_where=text(_INVALID_SQL),
            postgresql_where=text(_INVALID_SQL),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    lead_id: int = Field(foreign_key="leads.id")
    campaign_id: int = Field(foreign_key="campaigns.id")
    sequence: str = Field(max_length=64)
    state: str = Field(default=EnrollmentState.PENDING, max_length=16)
    step: int = 0
    step_state: str = Field(default=StepState.DUE, max_length=16)
    due_at: datetime | None = _ts()
    queued_at: datetime | None = _ts()
    sending_at: datetime | None = _ts()
    phone_id: str | None = Field(default=None, foreign_key="phones.id", max_length=2)
    chat_id: int | None = Field(default=None, sa_type=BigInteger)
    attempts: int = 0
    last_error: str | None = None
    end_reason: str | None = None
    ended_at: datetime | None = _ts()
    created_at: datetime = _ts(nullable=False, default_factory=_utcnow)
    updated_at: datetime = _ts(nullable=False, default_factory=_utcnow)


class Message(SQLModel, table=True):
    """One WhatsApp message we sent (``out``) or received (``in``)."""

    __tablename__: ClassVar[str] = "messages"
    __table_args__ = (
        # At most one outbound message per (enrollment, step), whatever crashes or retries.
        Index(
            "uq_messages_enrollment_step_out",
            "enrollment_id",
            "step",
            unique=True,
            sqlite_where=text("direction = 'out'"),
            postgresql_where=text("direction = 'out'"),
        ),
        Index("ix_messages_status_sent", "direction", "status", "sent_at"),
        # Sends by day over a range of days, whatever their status (the console's charts).
        Index("ix_messages_direction_sent", "direction", "sent_at"),
        Index("ix_messages_chat", "chat_id"),
        Index("ix_messages_lead", "lead_id"),
        # Each phone's latest first messages and replies (its health), newest first.
        Index(
            "ix_messages_first_sent",
            "phone_id",
            "sent_at",
            "id",
            sqlite_where=text(_FIRST_SQL),
            postgresql_where=text(_FIRST_SQL),
        ),
        Index(
            "ix_messages_replies_sent",
            "phone_id",
            "sent_at",
            "id",
            sqlite_where=text(_REPLY_SQL),
            postgresql_where=text(_REPLY_SQL),
        ),
        # Replies still to classify (the sweep that re-queues lost classifications).
        Index("ix_messages_unclassified", "direction", "classified_at"),
        # Sends in flight when a reply came: few, counted on every metrics scrape.
        Index(
            "ix_messages_in_flight",
            "in_flight_step",
            sqlite_where=text("in_flight_step IS NOT NULL"),
            postgresql_where=text("in_flight_step IS NOT NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    direction: str = Field(max_length=3)
    enrollment_id: int | None = Field(default=None, foreign_key="enrollments.id")
    step: int | None = None
    lead_id: int | None = Field(default=None, foreign_key="leads.id")
    phone_id: str | None = Field(default=None, max_length=2)
    chat_id: int | None = Field(default=None, sa_type=BigInteger)
    message_uid: str | None = Field(default=None, unique=True, max_length=64)
    text: str = ""
    template_variant: int | None = None
    variant_id: str | None = Field(default=None, max_length=32)
    content_hash: str | None = Field(default=None, max_length=64)
    status: str = Field(default="queued", max_length=16)
    sent_at: datetime | None = _ts()
    delivered_at: datetime | None = _ts()
    read_at: datetime | None = _ts()
    failed_at: datetime | None = _ts()
    error: str | None = None
    intent: str | None = Field(default=None, max_length=32)
    attachments: list[dict[str, Any]] | None = Field(default=None, sa_type=JSON)
    created_at: datetime = _ts(nullable=False, default_factory=_utcnow)
    # The other end of the chat (the lead's number, or an unknown sender's) in E.164.
    peer_phone: str | None = Field(default=None, max_length=20)
    # Where TimelinesAI says the message came from (API, WhatsApp, ...), when it says.
    origin: str | None = Field(default=None, max_length=32)
    # Every named intent a reply matched; ``intent`` holds its class for reports.
    intents: list[str] | None = Field(default=None, sa_type=JSON)
    classified_at: datetime | None = _ts()
    # A reply's ``step`` is the step it answers: the last one recorded as sent before it.
    # ``in_flight_step`` is a step that was being sent (claimed, not yet recorded) when
    # the reply committed: that send finishes after the reply, and only that one may.
    in_flight_step: int | None = None


class QuotaUsage(SQLModel, table=True):
    """New contacts a phone has started on one local day (the quota's source of truth)."""

    __tablename__: ClassVar[str] = "quota_usage"

    phone_id: str = Field(primary_key=True, max_length=2)
    day: date = Field(primary_key=True)
    used: int = 0


class WebhookEvent(SQLModel, table=True):
    """A TimelinesAI webhook delivery, stored once per dedupe key."""

    __tablename__: ClassVar[str] = "webhook_events"

    id: int | None = Field(default=None, primary_key=True)
    dedupe_key: str = Field(unique=True, max_length=128)
    event_type: str = Field(max_length=64)
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    received_at: datetime = _ts(nullable=False, default_factory=_utcnow, index=True)
    processed_at: datetime | None = _ts()
    error: str | None = None


class ReviewFlag(SQLModel, table=True):
    """A reply a person should read: its priority (1 low .. 3 urgent) and what matched."""

    __tablename__: ClassVar[str] = "review_flags"
    __table_args__ = (Index("ix_review_flags_open", "resolved_at", "priority"),)

    id: int | None = Field(default=None, primary_key=True)
    message_id: int = Field(foreign_key="messages.id", unique=True)
    lead_id: int | None = Field(default=None, foreign_key="leads.id")
    enrollment_id: int | None = Field(default=None, foreign_key="enrollments.id")
    priority: int = 1
    reasons: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    created_at: datetime = _ts(nullable=False, default_factory=_utcnow)
    resolved_at: datetime | None = _ts()
    assigned_to: str | None = Field(default=None, max_length=64)
    assigned_at: datetime | None = _ts()
    resolved_by: str | None = Field(default=None, max_length=64)


class AutoReply(SQLModel, table=True):
    """An automatic answer to a lead's reply (a rule's ``auto_reply``): at most one per lead.

    Sent from the phone the lead talks to, under its lease, pacing and the sequence's
    send window, by the phone's follow-up queue; the dispatcher queues it when due.
    """

    __tablename__: ClassVar[str] = "auto_replies"
    __table_args__ = (Index("ix_auto_replies_dispatch", "state", "due_at"),)

    id: int | None = Field(default=None, primary_key=True)
    lead_id: int = Field(foreign_key="leads.id", unique=True)
    message_id: int = Field(foreign_key="messages.id")
    enrollment_id: int | None = Field(default=None, foreign_key="enrollments.id")
    phone_id: str = Field(max_length=2)
    chat_id: int | None = Field(default=None, sa_type=BigInteger)
    rule: str = Field(max_length=32)
    text: str
    state: str = Field(default=AutoReplyState.DUE, max_length=16)
    due_at: datetime = _ts(nullable=False)
    queued_at: datetime | None = _ts()
    sent_at: datetime | None = _ts()
    message_uid: str | None = Field(default=None, max_length=64)
    error: str | None = None
    created_at: datetime = _ts(nullable=False, default_factory=_utcnow)
    updated_at: datetime = _ts(nullable=False, default_factory=_utcnow)


class Suppression(SQLModel, table=True):
    """A number we must never contact again (opt-out, or added by hand).

    ``phone`` is the number in E.164, or for a forgotten lead its key (``#`` and 19 hex
    digits, :func:`sequences.suppression.forgotten_key`), which the lead's row holds too.
    """

    __tablename__: ClassVar[str] = "suppressions"

    phone: str = Field(primary_key=True, max_length=20)
    reason: str = Field(max_length=64)
    source: str | None = None
    created_at: datetime = _ts(nullable=False, default_factory=_utcnow)


class InstallSecret(SQLModel, table=True):
    """A random value made once per install and kept with its data (the salt of the keys
    that stand for forgotten numbers on the suppression list)."""

    __tablename__: ClassVar[str] = "install_secrets"

    name: str = Field(primary_key=True, max_length=64)
    value: str = Field(max_length=128)
    created_at: datetime = _ts(nullable=False, default_factory=_utcnow)


class Alert(SQLModel, table=True):
    """Something an operator must know: a banned phone, a bad token, a dead letter."""

    __tablename__: ClassVar[str] = "alerts"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=64)
    severity: str = Field(default="warning", max_length=16)
    phone_id: str | None = Field(default=None, max_length=2)
    message: str
    details: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    created_at: datetime = _ts(nullable=False, default_factory=_utcnow, index=True)
    notified_at: datetime | None = _ts()


class ConsoleSession(SQLModel, table=True):
    """A signed-in console visitor. The cookie holds a random token; only its SHA-256
    is stored, so a copy of the database signs nobody in. ``csrf`` is the token every
    form of the session carries back."""

    __tablename__: ClassVar[str] = "console_sessions"

    token_hash: str = Field(primary_key=True, max_length=64)
    user: str = Field(max_length=64)
    role: str = Field(max_length=16)
    csrf: str = Field(max_length=64)
    created_at: datetime = _ts(nullable=False, default_factory=_utcnow)
    expires_at: datetime = _ts(nullable=False, index=True)


class ConsoleAction(SQLModel, table=True):
    """Something a person did in the console (or tried and was refused), and who."""

    __tablename__: ClassVar[str] = "console_actions"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _ts(nullable=False, default_factory=_utcnow, index=True)
    user: str = Field(max_length=64)
    action: str = Field(max_length=64)
    target: str | None = Field(default=None, max_length=200)
    detail: str | None = None
