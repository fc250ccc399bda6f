"""What stops sending right now, each with a one-line reason and the command that fixes it.

Pure: :func:`find_blockers` takes plain facts (phone states, the workspace halt, the
newest token and budget alerts, the API budget, the dead letters) read at ``now`` and
answers with :class:`Blocker` items, most serious first. ``outreach status`` shows them
at the top; :func:`halt_label` is what an active phone shows while nothing can be sent.

An API outage (:mod:`engine.sending.outage`) pauses all sending until a probe goes
through; it is shown with when it tripped and when it probes.

A refused token or a spent budget trips the workspace halt (:mod:`engine.sending.halt`)
for five minutes, then one send probes the API again. The halt's Redis key therefore
comes and goes while the token stays bad, so a refusal counts as current until a
message has gone out after it. The halt at the workspace's monthly message reserve
(:mod:`engine.workspace_quota`) is a key of its own, set and cleared by the scheduler's
readings, so it is current exactly while it is set.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from engine.alert_log import AlertSpan
from engine.states import PhoneState
from engine.timelinesai.ratelimit.base import BUDGET_SHARE

if TYPE_CHECKING:
    from engine.workspace_quota import QuotaReading

__all__ = [
    "Blocker",
    "PhoneFacts",
    "SendingFacts",
    "WorkspaceFacts",
    "find_blockers",
    "halt_label",
    "next_month_start",
]

BUDGET_LOW_SHARE = BUDGET_SHARE
"""The share of the month's API calls past which the budget counts as low: where the
delivery polling stops to leave the rest to sends."""

CRITICAL = "critical"
"""Nothing is sent until it is fixed."""
WARNING = "warning"
"""Some sending is stopped, or all of it will be soon."""

REFUSED_FIX = (
    "export a working TIMELINESAI_TOKEN, check it with `outreach phones sync`, then restart "
    "the workers (`outreach serve`): the next send tries the API again within 5 minutes"
)
REDIS_FIX = "start Redis, e.g. `redis-server --daemonize yes --bind 127.0.0.1 --port 6379`"


@dataclass(frozen=True)
class PhoneFacts:
    """One configured phone's state and why it is in it (``state_reason``); ``until``:
    the end of its breaker's cooling; ``since``: when it entered its state."""

    id: str
    state: str
    reason: str | None = None
    until: datetime | None = None
    since: datetime | None = None


@dataclass(frozen=True)
class WorkspaceFacts:
    """What Redis says: whether the halt is tripped (since when) and the month's API calls;
    the latest reading of the workspace's messages and whether their halt is set.

    ``error`` is set (and the rest unknown) when Redis did not answer.
    """

    halted_at: datetime | None = None
    halted: bool = False
    calls_used: int | None = None
    error: str | None = None
    messages: QuotaReading | None = None
    messages_halted: bool = False
    outage_since: datetime | None = None
    """When the API outage breaker (:mod:`engine.sending.outage`) tripped, if it is."""
    outage_probe_at: datetime | None = None
    """When its one probe send may go."""
    outage_failures: int = 0
    """Failures in a row that mean the API is down."""


@dataclass(frozen=True)
class SendingFacts:
    """Everything :func:`find_blockers` looks at, read at ``now``.

    ``workspace`` is ``None`` when Redis was not asked (the halt and budget are then
    judged from the alerts alone).
    """

    now: datetime
    phones: tuple[PhoneFacts, ...] = ()
    token_refused: AlertSpan | None = None
    budget_spent: AlertSpan | None = None
    workspace: WorkspaceFacts | None = None
    monthly_call_budget: int = 200_000
    dead_letters: int = 0


@dataclass(frozen=True)
class Blocker:
    """One thing that stops sending: ``kind``, how bad, why, and how to fix it.

    ``command`` is the one command to run first (for scripts); ``fix`` says the whole
    remedy in a sentence, with that command in backticks.
    """

    kind: str
    severity: str
    reason: str
    fix: str
    command: str
    phone_id: str | None = None


def find_blockers(facts: SendingFacts) -> list[Blocker]:
    """What stops sending at ``facts.now``: critical items first, then warnings."""
    found = [
        *_workspace_blockers(facts),
        *_phone_blockers(facts.phones),
        *_dead_letter_blockers(facts.dead_letters),
    ]
    return sorted(found, key=lambda blocker: blocker.severity != CRITICAL)


def halt_label(blockers: list[Blocker]) -> str | None:
    """What an active phone shows while nothing can be sent (``None``: it can send)."""
    labels = {
        "token_refused": "token refused",
        "budget_used_up": "API budget used up",
        "halted": "sending halted",
        "workspace_quota": "workspace messages used up",
        "api_outage": "TimelinesAI outage",
        "redis_unreachable": "Redis unreachable",
    }
    for blocker in blockers:
        if blocker.kind in labels:
            return labels[blocker.kind]
    return None


def next_month_start(now: datetime) -> datetime:
    """The first moment of the UTC month after ``now``: when the call budget resets."""
    moment = now.astimezone(UTC)
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    return datetime(year, month, 1, tzinfo=UTC)


def _workspace_blockers(facts: SendingFacts) -> list[Blocker]:
    workspace = facts.workspace
    if workspace is not None and workspace.error is not None:
        reason = f"Redis does not answer ({workspace.error}): no worker can take work"
        found = [Blocker("redis_unreachable", CRITICAL, reason, REDIS_FIX, "redis-server")]
    else:
        found = []
    outage = _outage_blocker(workspace, facts.now) if workspace is not None else None
    if outage is not None:
        found.append(outage)
    cause = _halt_cause(facts.token_refused, facts.budget_spent)
    halted = workspace is not None and workspace.halted
    if cause == "token" and facts.token_refused is not None:
        found.append(_token_blocker(facts.token_refused, halted))
    budget = _budget_blocker(facts, spent_alert=cause == "budget")
    if budget is not None:
        found.append(budget)
    if workspace is not None and workspace.messages_halted:
        found.append(_messages_blocker(workspace.messages))
    if halted and cause is None and (budget is None or budget.severity != CRITICAL):
        halted_at = workspace.halted_at if workspace is not None else None
        reason = f"sending is halted for the whole workspace{_since(halted_at)}"
        fix = "see why with `outreach alerts`; the halt lifts by itself within 5 minutes"
        found.append(Blocker("halted", CRITICAL, reason, fix, "outreach alerts"))
    return found


def _outage_blocker(workspace: WorkspaceFacts, now: datetime) -> Blocker | None:
    """The API outage breaker, while it is tripped: when, and when it probes."""
    if workspace.outage_since is None:
        return None
    probe_at = workspace.outage_probe_at
    probe = (
        "a probe send goes now"
        if probe_at is None or probe_at <= now
        else f"one probe send at {probe_at:%Y-%m-%d %H:%M:%S} UTC"
    )
    reason = (
        f"TimelinesAI failed {workspace.outage_failures} times in a row (5xx or timeouts): "
        f"all sending paused since {workspace.outage_since:%Y-%m-%d %H:%M:%S} UTC; {probe}"
    )
    fix = (
        "nothing to do if TimelinesAI is down: sending resumes by itself when the probe goes "
        "through (steps wait, none becomes a dead letter); if it lasts, check this host's "
        "network and TimelinesAI's status, and `outreach alerts`"
    )
    return Blocker("api_outage", CRITICAL, reason, fix, "outreach alerts")


def _halt_cause(token: AlertSpan | None, budget: AlertSpan | None) -> str | None:
    """Which halt alert is the current one: the newer of the two (both came after the
    newest send), else the only one."""
    if token is not None and (budget is None or token.last_at >= budget.last_at):
        return "token"
    return "budget" if budget is not None else None


def _token_blocker(span: AlertSpan, halted: bool) -> Blocker:
    times = "once" if span.count == 1 else f"{span.count} times"
    state = "all sending is halted" if halted else "sending stays halted while it is refused"
    reason = (
        f"TimelinesAI refused the token {times} since {span.first_at:%Y-%m-%d %H:%M} UTC "
        f"(last {span.last_at:%H:%M}) and no message has gone out since: {state}"
    )
    return Blocker("token_refused", CRITICAL, reason, REFUSED_FIX, "outreach phones sync")


def _budget_blocker(facts: SendingFacts, *, spent_alert: bool) -> Blocker | None:
    limit = facts.monthly_call_budget
    used = facts.workspace.calls_used if facts.workspace else None
    resets = f"{next_month_start(facts.now):%Y-%m-%d} 00:00 UTC"
    fix = (
        "raise [timelinesai] monthly_call_budget in config.toml if your plan allows, then "
        f"restart the workers (`outreach serve`); or wait for the budget to reset on {resets}"
    )
    counted = "" if used is None else f" ({used} of {limit} calls)"
    if spent_alert or (used is not None and used >= limit):
        reason = f"this month's TimelinesAI API calls are used up{counted}: sending is halted"
        return Blocker("budget_used_up", CRITICAL, reason, fix, "outreach serve")
    if used is not None and used >= BUDGET_LOW_SHARE * limit:
        reason = (
            f"{used} of this month's {limit} TimelinesAI API calls are used "
            f"({used / limit:.0%}): delivery polling has stopped, sending stops at {limit}"
        )
        return Blocker("budget_low", WARNING, reason, fix, "outreach serve")
    return None


def _messages_blocker(reading: QuotaReading | None) -> Blocker:
    left = "the reserve" if reading is None or reading.left is None else f"{reading.left:,}"
    of = "" if reading is None or reading.limit is None else f" of {reading.limit:,}"
    reason = (
        f"only {left}{of} TimelinesAI workspace messages are left this month, at or below "
        "[workspace] reserve_messages: all sending is halted"
    )
    fix = (
        "add seats or a larger plan in TimelinesAI (or wait for the new month): the halt "
        "lifts at the scheduler's next reading that shows more; lower "
        "[workspace] reserve_messages to use the reserve"
    )
    return Blocker("workspace_quota", CRITICAL, reason, fix, "outreach status")


def _phone_blockers(phones: tuple[PhoneFacts, ...]) -> list[Blocker]:
    found = [blocker for phone in phones if (blocker := _phone_blocker(phone)) is not None]
    if phones and len(found) == len(phones):
        reason = f"none of the {len(phones)} phones can send"
        fix = "bring one back (the lines below say how); see them with `outreach phones list`"
        found.insert(0, Blocker("no_phone_active", CRITICAL, reason, fix, "outreach phones list"))
    return found


def _phone_blocker(phone: PhoneFacts) -> Blocker | None:
    why = f" ({phone.reason})" if phone.reason else ""
    sync = "outreach phones sync"
    if phone.state == PhoneState.BANNED:
        return Blocker(
            "phone_banned", WARNING,
            f"phone {phone.id} is banned{why}; its new leads go to the other phones",
            f"connect a replacement number in TimelinesAI and set it for phone {phone.id} in "
            f"config.toml (or reconnect it), then `{sync}`",
            sync, phone.id,
        )  # fmt: skip
    if phone.state == PhoneState.OFFLINE:
        since = f" since {phone.since:%Y-%m-%d %H:%M} UTC" if phone.since else ""
        return Blocker(
            "phone_offline", WARNING, f"phone {phone.id} is offline{since}{why}",
            f"reconnect its WhatsApp in TimelinesAI (scan the QR code), then `{sync}`; once "
            "it has been offline for [scheduler] offline_phone_grace_s the leads it "
            "contacted end failed",
            sync, phone.id,
        )  # fmt: skip
    if phone.state in _BREAKER_ROUND:
        return _breaker_blocker(phone)
    if phone.state == PhoneState.PAUSED:
        resume = f"outreach phones resume {phone.id}"
        by_operator = phone.reason in (None, "operator")
        fix = f"`{resume}`" if by_operator else f"check its access in TimelinesAI, then `{resume}`"
        return Blocker(
            "phone_paused", WARNING, f"phone {phone.id} is paused{why}", fix, resume, phone.id
        )
    return None


_BREAKER_ROUND = (PhoneState.COOLING, PhoneState.HALF_OPEN, PhoneState.PROBING)


def _breaker_blocker(phone: PhoneFacts) -> Blocker:
    """A phone its breaker stopped (:mod:`phones.breaker`): it comes back by itself."""
    resume = f"outreach phones resume {phone.id}"
    why = f" ({phone.reason})" if phone.reason else ""
    if phone.state == PhoneState.COOLING:
        until = "" if phone.until is None else f" until {phone.until:%Y-%m-%d %H:%M} UTC"
        state = f"cooling{until}"
    else:
        state = "half-open: one first message probes it"
    reason = f"phone {phone.id} is {state}{why}; its new leads go to the other phones"
    fix = (
        "it comes back by itself once a probe send goes out; look at its health with "
        f"`outreach phones list`, or send from it now with `{resume}`"
    )
    return Blocker("phone_cooling", WARNING, reason, fix, resume, phone.id)


def _dead_letter_blockers(count: int) -> list[Blocker]:
    if count <= 0:
        return []
    reason = f"{count} {'send' if count == 1 else 'sends'} failed for good and wait for a person"
    fix = "look with `outreach dlq list`, then `outreach dlq retry --all` (or name ids)"
    return [Blocker("dead_letters", WARNING, reason, fix, "outreach dlq list")]


def _since(moment: datetime | None) -> str:
    return "" if moment is None else f" since {moment:%Y-%m-%d %H:%M} UTC"
