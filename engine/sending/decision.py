"""May this step be sent now, and if not, what happens to it: one pure decision.

It takes the work item as read (plain data), the queued message that asked, the
sequence, ``now`` and whether sending is halted, and answers with a verdict; it does
no I/O, reads no clock and is tested by a parameter table (``tests/sending/
test_decision.py``). The sender asks it once per message, before its claim, and
:func:`after_claim` reads the claim's result (quota, the phone's hourly cap, a phone
another send took).

The order of the checks is the order of the answers: a stale message is dropped
before anything else is looked at; a held campaign or phone, a halted workspace and an
API outage (until its probe time, keeping the phone) wait before pacing; a phone still
pacing puts the message back; a closed window (or a closed day of the lead's calendar: a
public holiday of its country, a skip date) makes the step due at its next opening; a
step that cannot be rendered ends its journey (a follow-up's only after the chat was read
for a reply: a lead who wrote ends ``replied``); then it may go.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from engine.states import RUNNING_STATES, CampaignState, StepState
from engine.storage.base import Claim, Request, WorkItem, dispatch_id
from phones.breaker import may_send
from phones.pacing import should_put_back, wait_s
from sequences import (
    ClosedDays,
    EndReason,
    Sequence,
    choose_variant,
    closed_days,
    is_open,
    lead_timezone,
    next_open,
)
from sequences.closed_days import NO_CLOSED_DAYS
from spintax import MissingVariableError, Rendered

BUSY_FLOOR_REAL_S = 0.05  # a busy phone is tried again no sooner than this (real seconds)
LEASE_WAIT_MAX_S = 0.25  # real seconds a thread may wait for a busy phone's lease


@dataclass(frozen=True)
class Policy:
    """The settings a decision reads (from the config, once)."""

    speed: float
    max_inline_wait_s: float
    quota_timezone: str
    jitter_min_s: float
    read_chat_before_followups: bool = False


@dataclass(frozen=True)
class Drop:
    """Nothing to do: the message is stale (sent, moved, superseded, ended)."""

    reason: str


@dataclass(frozen=True)
class Reconcile:
    """The step was left ``sending`` (a crash, an unknown outcome): did it go out?"""


@dataclass(frozen=True)
class End:
    """The journey cannot go on: end it for ``reason``."""

    reason: EndReason
    error: str


@dataclass(frozen=True)
class BackToDue:
    """The step waits in the database (due again, at ``due_at`` or now); a first message
    may go out from another phone when ``release_phone``."""

    reason: str
    due_at: datetime | None = None
    release_phone: bool = False


@dataclass(frozen=True)
class Later:
    """Put the message back on its queue for ``delay_s`` virtual seconds (not a failure)."""

    delay_s: float
    reason: str


@dataclass(frozen=True)
class Go:
    """Send it: in the lead's ``zone``, this text, after waiting ``wait_s`` here (a short
    pacing wait), reading the chat for a reply first when ``read_chat``. ``missing``: the
    text cannot be rendered, which ends the journey once the chat showed no reply
    (:func:`after_chat_read`). ``closed``: the lead's closed days, which the next step's
    due time steps over."""

    zone: str
    text: str
    variant: int
    variant_id: str
    wait_s: float = 0.0
    read_chat: bool = False
    missing: str | None = None
    closed: ClosedDays = NO_CLOSED_DAYS


Verdict = Drop | Reconcile | End | BackToDue | Later | Go


def decide(
    item: WorkItem | None,
    request: Request,
    sequence: Sequence | None,
    now: datetime,
    *,
    halted: bool,
    policy: Policy,
    outage_until: datetime | None = None,
) -> Verdict:
    """The verdict on sending ``request``'s step of ``item`` at ``now``; see the module doc.
    ``outage_until``: TimelinesAI is down (:mod:`engine.sending.outage`) and sending waits
    until then."""
    stale = _stale(item, request)
    if stale is not None or item is None:
        return Drop(stale or "enrollment gone")
    if sequence is None:
        return End(EndReason.UNKNOWN_SEQUENCE, f"no sequence {item.sequence!r} in the config")
    if item.step_state == StepState.SENDING:
        return Reconcile()
    if item.campaign_state is not None and item.campaign_state != CampaignState.ACTIVE:
        return BackToDue(f"campaign {item.campaign_state}")
    if not may_send(item.phone_state, item.step):
        return BackToDue("phone not active", release_phone=True)
    if halted:
        return BackToDue("sending halted: TimelinesAI token refused")
    if outage_until is not None:
        # Not the phone's fault: the step keeps its phone (and a follow-up its chat).
        return BackToDue("sending paused: TimelinesAI outage", due_at=outage_until)
    pacing = wait_s(item.next_send_at, now)
    if pacing > 0 and should_put_back(pacing, policy.speed, policy.max_inline_wait_s):
        return Later(pacing, "pacing")
    # After any pacing wait: the window may have closed meanwhile.
    at = now + timedelta(seconds=pacing)
    zone = zone_of(sequence, item, policy.quota_timezone)
    closed = closed_of(sequence, item)
    if not is_open(sequence.window, zone, at, closed):
        opening = next_open(sequence.window, zone, at, closed)
        return BackToDue("outside the send window", due_at=opening)
    variant = variant_of(sequence, item)
    read_chat = item.step > 0 and sequence.stop_on_reply and policy.read_chat_before_followups
    try:
        rendered = render(sequence, item, variant)
    except MissingVariableError as error:
        if not read_chat:
            return End(EndReason.MISSING_VARIABLE, str(error))
        # A reply the chat shows ends the lead ``replied`` first: it wrote, whatever the text.
        return Go(zone, "", variant, "", pacing, read_chat, str(error), closed)
    return Go(zone, rendered.text, variant, rendered.variant_id, pacing, read_chat, None, closed)


def after_chat_read(go: Go) -> Verdict | None:
    """What a go whose chat showed no reply (or was not read) still means: ``None`` to
    send; the end of the journey when its text cannot be rendered."""
    if go.missing is not None:
        return End(EndReason.MISSING_VARIABLE, go.missing)
    return None


def after_claim(claim: Claim, *, policy: Policy) -> Verdict | None:
    """What a claim that does not go ahead means; ``None`` when it goes ahead."""
    if not claim.phone_free:
        # Our lease was lost (Redis flushed or restarted) and another send took the phone.
        return Later(busy_delay_s(policy), "phone busy: another send holds it")
    if not claim.claimed:
        return Drop("step no longer queued, or the enrollment ended")
    if claim.hour_frees_at is not None:
        # The phone's hour is full, not its day: the step waits for the hour to free, so
        # neither the phone nor the dispatcher meets it again before then. It keeps its
        # phone meanwhile (its day has room); the dispatcher, which counts each phone's
        # hour too, chooses a phone for it again once it is due.
        return BackToDue("phone's hourly cap reached", due_at=claim.hour_frees_at)
    if not claim.quota_taken:
        # Over quota: wait for the dispatcher to pick another phone or the next day.
        return BackToDue("phone quota used up", release_phone=True)
    return None


def busy_delay_s(policy: Policy) -> float:
    """How long a message of a busy phone waits before it is tried again (virtual
    seconds): the phone's shortest gap, but never under 50 ms real (it never spins)."""
    return max(policy.jitter_min_s, BUSY_FLOOR_REAL_S * policy.speed)


def lease_wait_s(policy: Policy) -> float:
    """How long (real seconds) to wait for a busy phone's lease before putting the message
    back: only when the phone's shortest gap is short in real time (a sped-up clock, zero
    jitter) does its holder finish in milliseconds; otherwise it cannot send for a while."""
    gap_real_s = policy.jitter_min_s / policy.speed
    if gap_real_s > policy.max_inline_wait_s:
        return 0.0
    return min(policy.max_inline_wait_s, LEASE_WAIT_MAX_S)


def zone_of(sequence: Sequence, item: WorkItem, quota_timezone: str) -> str:
    """The time zone the lead's send window is read in."""
    zone: str = lead_timezone(
        sequence.timezone, item.lead_timezone, item.lead_phone, quota_timezone
    )
    return zone


def closed_of(sequence: Sequence, item: WorkItem) -> ClosedDays:
    """The days the lead's window stays shut: its country's holidays, the skip dates."""
    closed: ClosedDays = closed_days(sequence, item.lead_region, item.lead_phone)
    return closed


def variant_of(sequence: Sequence, item: WorkItem) -> int:
    """Which of the step's templates the lead gets (stable per enrollment and step)."""
    variant: int = choose_variant(
        item.enrollment_id, item.step, len(sequence.steps[item.step].templates)
    )
    return variant


def render(sequence: Sequence, item: WorkItem, variant: int, rewording: int = 0) -> Rendered:
    """The variant's text, seeded ``"<enrollment>:<step>"`` so a retry or a reconciliation
    renders the same text (``"<enrollment>:<step>:<k>"`` for its ``k``-th rewording, see
    :mod:`engine.sending.wording`); ``MissingVariableError`` if it cannot."""
    template = sequence.steps[item.step].templates[variant]
    seed = f"{item.enrollment_id}:{item.step}"
    if rewording:
        seed = f"{seed}:{rewording}"
    return template.render(item.lead_variables, seed=seed)


def _stale(item: WorkItem | None, request: Request) -> str | None:
    if item is None:
        return "enrollment gone"
    # A step still being sent when a reply or a stop ended its enrollment is reconciled:
    # did it go out (record it), or not (nothing more will)?
    if item.state not in RUNNING_STATES and item.step_state != StepState.SENDING:
        return f"enrollment {item.state}"
    if item.step != request.step:
        return "step already moved on"
    if item.phone_id != request.phone_id:
        return "enrollment moved to another phone"
    if item.step_state not in (StepState.QUEUED, StepState.SENDING):
        return f"step is {item.step_state}"
    if request.dispatch_id and request.dispatch_id != dispatch_id(item.queued_at):
        return "superseded by a newer dispatch"
    return None
