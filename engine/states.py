"""The states rows move through: phones, enrollments and their steps, campaigns, answers.

Plain strings in the database (a new state is a code change, not a schema change),
defined here once. How an enrollment moves between its states is the journey's
(:mod:`sequences.journey`); the running states are the only ones that may still send.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

__all__ = [
    "API_OUTAGE",
    "API_RECOVERED",
    "BUDGET_SPENT",
    "DEAD_LETTER",
    "END_STATES",
    "KINDS",
    "OFFLINE_TOO_LONG",
    "OPT_OUT",
    "RUNNING_STATES",
    "TOKEN_REFUSED",
    "WORKSPACE_QUOTA",
    "AutoReplyState",
    "CampaignState",
    "Direction",
    "EnrollmentState",
    "PhoneState",
    "StepState",
]


class PhoneState(StrEnum):
    """Where a phone is. ``cooling`` -> ``half_open`` -> ``probing`` -> ``active`` is the
    breaker's round (:mod:`phones.breaker`): its health tripped it, it sends nothing for
    a while, then one first message may go (the claim moves ``half_open`` to
    ``probing``), and that send closes it again."""

    ACTIVE = "active"
    PAUSED = "paused"
    OFFLINE = "offline"
    BANNED = "banned"
    COOLING = "cooling"
    HALF_OPEN = "half_open"
    PROBING = "probing"


class EnrollmentState(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    COMPLETED = "completed"
    REPLIED = "replied"
    OPTED_OUT = "opted_out"
    INVALID_NUMBER = "invalid_number"
    FAILED = "failed"
    STOPPED = "stopped"
    PAUSED = "paused"  # a colleague at the lead's company replied: on hold, not ended


RUNNING_STATES: Final = frozenset({EnrollmentState.PENDING.value, EnrollmentState.ACTIVE.value})
"""States of an enrollment that may still send (a lead has at most one): defined here,
once, for the schema's own constraint and every query; the state machine
(:mod:`sequences.journey`) says how an enrollment moves between them and the ends."""

END_STATES: Final = (
    frozenset(state.value for state in EnrollmentState)
    - RUNNING_STATES
    - {EnrollmentState.PAUSED.value}
)
"""Final states: nothing moves an enrollment out of one. ``paused`` is neither running
(nothing is sent or claimed) nor an end (a person may still stop it)."""


class StepState(StrEnum):
    """Where the enrollment's current step is: due -> queued -> sending -> sent | failed."""

    DUE = "due"
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


class Direction(StrEnum):
    OUT = "out"
    IN = "in"


class CampaignState(StrEnum):
    """Where a campaign is; how it moves is :mod:`sequences.campaign_states`."""

    DRAFT = "draft"  # saved (``campaign create``), nobody enrolled yet
    SCHEDULED = "scheduled"  # launched, its start still ahead: nothing is sent before it
    ACTIVE = "active"
    PAUSED = "paused"
    STOPPED = "stopped"
    COMPLETED = "completed"  # every enrollment ended; launching again makes it active


class AutoReplyState(StrEnum):
    """Where an automatic answer to a reply is: due -> queued -> sending -> sent | failed,
    or ``cancelled`` before it went (the lead opted out, a person took the chat over)."""

    DUE = "due"
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"


OPT_OUT: Final = "opt_out"
"""The class of a reply that asks us to stop writing (``messages.intent``)."""


# The kinds an alert is recorded with (the alerts table's ``kind``).
TOKEN_REFUSED = "bad_token"  # noqa: S105 - an alert kind, not a token
"""TimelinesAI answered 401: the token was refused and all sending halted."""
BUDGET_SPENT = "call_budget"
"""The month's API calls were used up and all sending halted."""
DEAD_LETTER = "dead_letter"
"""A step failed for good (``outreach dlq list``)."""
WORKSPACE_QUOTA = "workspace_quota"
"""The workspace's monthly messages fell to the reserve and all sending halted."""
API_OUTAGE = "api_outage"
"""TimelinesAI failed (5xx, timeouts) so many times in a row that all sending paused."""
API_RECOVERED = "api_recovered"
"""A send went through after an outage: sending resumed."""
OFFLINE_TOO_LONG = "phone_offline_too_long"
"""A phone stayed offline past ``[scheduler] offline_phone_grace_s``: the leads it had
contacted end ``failed`` (:func:`phones.states.grace_end`)."""
KINDS: Final = (
    TOKEN_REFUSED,
    BUDGET_SPENT,
    WORKSPACE_QUOTA,
    DEAD_LETTER,
    API_OUTAGE,
    API_RECOVERED,
    OFFLINE_TOO_LONG,
    *(f"phone_{state}" for state in PhoneState),
)
"""Every kind an alert is recorded with."""
