"""What campaigns have done and have left: ``outreach campaign status`` and the forecasts' input.

Everything is per campaign (by the enrollments' campaign), so two campaigns of one
sequence are reported apart. Every figure comes from a handful of ``GROUP BY`` queries
over all of a campaign's rows, never from a row per lead in Python, so a status of a
100,000-lead campaign costs a few index scans. Replies are counted from the stored
inbound messages, so the count does not wait for classification and includes replies
after the last step. The campaign's total counts each lead who replied once; each step
counts the leads who answered it (the step recorded on the reply: the last one sent
before it; a reply that came before any send was recorded answers the first), with
that message's phone and A/B variant. An opt-out counts as a reply.

Those queries read every campaign's whole history: seconds at a million enrollments.
:mod:`engine.funnel_snapshots` stores their result for ``outreach status`` to read.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, Final
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Connection, and_, case, func, or_, select, true

from engine.settings import sorted_phone_ids
from engine.states import (
    RUNNING_STATES,
    Direction,
    EnrollmentState,
    StepState,
)
from engine.tables import C, E, M

if TYPE_CHECKING:
    from sequences import Sequence

__all__ = [
    "CampaignStatus", "Funnel", "SendBacklog", "ab_variants", "campaign_status",
    "campaigns_by_id", "live_campaigns_by_id", "send_backlog", "sends_per_day",
]  # fmt: skip


_RUNNING: Final = tuple(sorted(RUNNING_STATES))
_IN_FLIGHT: Final = (StepState.QUEUED.value, StepState.SENDING.value)


@dataclass
class Funnel:
    """How far the sends of one step, phone or variant went.

    ``waiting`` steps are due (or will be) and still in the database, ``queued`` ones
    are in a phone's queue or being sent; then ``sent``, ``delivered``, ``read`` and
    ``replied`` (replies credited to the last message before them).
    """

    waiting: int = 0
    queued: int = 0
    sent: int = 0
    delivered: int = 0
    read: int = 0
    replied: int = 0

    @property
    def reply_rate(self) -> float | None:
        """Replies per message sent, or ``None`` before anything was sent."""
        return self.replied / self.sent if self.sent else None

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "reply_rate": self.reply_rate}


@dataclass
class CampaignStatus:
    """One campaign: its state, its enrollments by state, and its funnel by step, phone, variant."""

    name: str
    sequence: str
    state: str
    """The campaign's state (draft, scheduled, active, paused, stopped, completed)."""
    starts_at: datetime | None = None
    phone_ids: str | None = None
    """The phones it may start conversations from, comma-separated; ``None``: every phone."""
    tag: str | None = None
    leads_file: str | None = None
    states: dict[str, int] = field(default_factory=dict)
    dead_letters: int = 0
    """Running enrollments whose step failed for good (``outreach dlq list``)."""
    replied_leads: int = 0
    """Leads who replied to the campaign, each once (the total's ``replied``)."""
    steps: dict[int, Funnel] = field(default_factory=lambda: defaultdict(Funnel))
    phones: dict[str, Funnel] = field(default_factory=lambda: defaultdict(Funnel))
    variants: dict[tuple[int, int], Funnel] = field(default_factory=lambda: defaultdict(Funnel))

    @property
    def enrolled(self) -> int:
        return sum(self.states.values())

    @property
    def leads_words(self) -> str:
        """Whom it was launched for, in words: ``leads tagged jan``, ``every lead``."""
        if self.tag is not None:
            return f"leads tagged {self.tag}"
        if self.leads_file is not None:
            return f"leads of {self.leads_file}"
        return "every lead"

    @property
    def phones_words(self) -> str:
        """The phones it may start conversations from, in words."""
        return "every phone" if self.phone_ids is None else f"phones {self.phone_ids}"

    @property
    def running(self) -> int:
        return sum(self.states.get(state, 0) for state in _RUNNING)

    @property
    def failed(self) -> int:
        """Enrollments that ended ``failed`` (a banned phone, a send that failed for good)."""
        return self.states.get(EnrollmentState.FAILED.value, 0)

    @property
    def total(self) -> Funnel:
        """All steps together; ``replied`` counts each lead who replied once."""
        total = Funnel()
        for funnel in self.steps.values():
            for name, value in asdict(funnel).items():
                setattr(total, name, getattr(total, name) + value)
        total.replied = self.replied_leads
        return total

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready view, lists sorted by step, phone and variant; steps and variants
        are numbered from 1, as every output shows them to people."""
        return {
            "campaign": self.name,
            "sequence": self.sequence,
            "state": self.state,
            "selection": {
                "tag": self.tag,
                "leads_file": self.leads_file,
                "phones": None if self.phone_ids is None else self.phone_ids.split(","),
                "starts_at": None if self.starts_at is None else self.starts_at.isoformat(),
            },
            "enrolled": self.enrolled,
            "running": self.running,
            "failed": self.failed,
            "dead_letters": self.dead_letters,
            "replied_leads": self.replied_leads,
            "states": dict(sorted(self.states.items())),
            "total": self.total.as_dict(),
            "steps": [{"step": k + 1, **v.as_dict()} for k, v in sorted(self.steps.items())],
            "phones": [
                {"phone": k, **self.phones[k].as_dict()} for k in sorted_phone_ids(self.phones)
            ],
            "variants": [
                {"step": step + 1, "variant": variant + 1, **v.as_dict()}
                for (step, variant), v in sorted(self.variants.items())
            ],
        }


_Of = Callable[[int], CampaignStatus]
"""The status of a campaign, by its id."""


def campaign_status(connection: Connection, name: str | None = None) -> list[CampaignStatus]:
    """The status of campaign ``name``, or of every campaign, by name."""
    return sorted(live_campaigns_by_id(connection, name).values(), key=lambda status: status.name)


def campaigns_by_id(connection: Connection, name: str | None) -> dict[int, CampaignStatus]:
    """Campaign ``name`` (or every campaign) by id, with its state and selection only."""
    found: dict[int, CampaignStatus] = {}
    campaigns = select(
        C.c.id, C.c.name, C.c.sequence, C.c.state, C.c.starts_at, C.c.phone_ids, C.c.tag,
        C.c.leads_file,
    ).where(true() if name is None else C.c.name == name)  # fmt: skip
    for row in connection.execute(campaigns):
        found[int(row.id)] = CampaignStatus(
            row.name, row.sequence, row.state, row.starts_at, row.phone_ids, row.tag,
            row.leads_file,
        )  # fmt: skip
    return found


def live_campaigns_by_id(connection: Connection, name: str | None) -> dict[int, CampaignStatus]:
    """Campaign ``name`` (or every campaign) by id, its figures grouped now."""
    found = campaigns_by_id(connection, name)
    if not found:
        return found
    only = true() if name is None else E.c.campaign_id == next(iter(found))

    def of(campaign_id: int) -> CampaignStatus:
        return found[campaign_id]

    for campaign_id, state, count in connection.execute(
        select(E.c.campaign_id, E.c.state, func.count())
        .where(only)
        .group_by(E.c.campaign_id, E.c.state)
    ):
        of(campaign_id).states[state] = int(count)
    _add_open_steps(connection, only, of)
    _add_messages(connection, only, of)
    _add_replies(connection, only, of)
    _add_dead_letters(connection, only, of)
    return found


def ab_variants(
    status: CampaignStatus, sequence: Sequence | None
) -> list[tuple[tuple[int, int], Funnel]]:
    """The funnels of the A/B variants, by (step, variant), of the steps that have some:
    those ``sequence`` (the campaign's, as configured) gives several templates, else (a
    sequence no longer configured) those with a variant beyond the first sent."""
    if sequence is not None:
        steps = {step.index for step in sequence.steps if len(step.templates) > 1}
    else:
        steps = {step for step, variant in status.variants if variant > 0}
    return [(key, funnel) for key, funnel in sorted(status.variants.items()) if key[0] in steps]


def _add_open_steps(connection: Connection, where: ColumnElement[bool], of: _Of) -> None:
    rows = connection.execute(
        select(E.c.campaign_id, E.c.step, E.c.step_state, E.c.phone_id, func.count())
        .where(where, E.c.state.in_(_RUNNING), E.c.step_state.in_((StepState.DUE, *_IN_FLIGHT)))
        .group_by(E.c.campaign_id, E.c.step, E.c.step_state, E.c.phone_id)
    )
    for campaign_id, step, step_state, phone_id, count in rows:
        status = of(campaign_id)
        funnels = [status.steps[step]] + ([status.phones[phone_id]] if phone_id else [])
        for funnel in funnels:
            if step_state == StepState.DUE:
                funnel.waiting += int(count)
            else:
                funnel.queued += int(count)


def _delivered() -> ColumnElement[int]:
    reached = or_(
        M.c.delivered_at.is_not(None),
        M.c.read_at.is_not(None),
        M.c.status.in_(("delivered", "read")),
    )
    return func.sum(case((reached, 1), else_=0))


def _read() -> ColumnElement[int]:
    return func.sum(case((or_(M.c.read_at.is_not(None), M.c.status == "read"), 1), else_=0))


def _add_messages(connection: Connection, where: ColumnElement[bool], of: _Of) -> None:
    rows = connection.execute(
        select(
            E.c.campaign_id, M.c.step, M.c.phone_id, M.c.template_variant,
            func.count(), _delivered(), _read(),
        )
        .select_from(M.join(E, E.c.id == M.c.enrollment_id))
        # A step's messages: automatic answers and messages a person typed have no step.
        .where(where, M.c.direction == Direction.OUT, M.c.step.is_not(None))
        .group_by(E.c.campaign_id, M.c.step, M.c.phone_id, M.c.template_variant)
    )  # fmt: skip
    for campaign_id, step, phone_id, variant, sent, delivered, read in rows:
        for funnel in _funnels(of(campaign_id), step, phone_id, variant):
            funnel.sent += int(sent)
            funnel.delivered += int(delivered or 0)
            funnel.read += int(read or 0)


def _add_replies(connection: Connection, where: ColumnElement[bool], of: _Of) -> None:
    reply = M.alias("reply")
    answered = (
        # A reply before any send was recorded (the first one still in flight) answers it.
        select(reply.c.enrollment_id, func.coalesce(reply.c.step, 0).label("step"))
        .where(reply.c.direction == Direction.IN, reply.c.enrollment_id.is_not(None))
        .distinct()
        .subquery()
    )
    rows = connection.execute(
        select(E.c.campaign_id, M.c.step, M.c.phone_id, M.c.template_variant, func.count())
        .select_from(
            answered.join(E, E.c.id == answered.c.enrollment_id).join(
                M,
                and_(
                    M.c.enrollment_id == answered.c.enrollment_id,
                    M.c.step == answered.c.step,
                    M.c.direction == Direction.OUT,
                ),
            )
        )
        .where(where)
        .group_by(E.c.campaign_id, M.c.step, M.c.phone_id, M.c.template_variant)
    )
    for campaign_id, step, phone_id, variant, count in rows:
        for funnel in _funnels(of(campaign_id), step, phone_id, variant):
            funnel.replied += int(count)
    leads = connection.execute(
        select(E.c.campaign_id, func.count(func.distinct(E.c.lead_id)))
        .select_from(E.join(reply, reply.c.enrollment_id == E.c.id))
        .where(where, reply.c.direction == Direction.IN)
        .group_by(E.c.campaign_id)
    )
    for campaign_id, count in leads:
        of(campaign_id).replied_leads = int(count)


def _add_dead_letters(connection: Connection, where: ColumnElement[bool], of: _Of) -> None:
    rows = connection.execute(
        select(E.c.campaign_id, func.count())
        .where(where, E.c.state.in_(_RUNNING), E.c.step_state == StepState.FAILED)
        .group_by(E.c.campaign_id)
    )
    for campaign_id, count in rows:
        of(campaign_id).dead_letters = int(count)


def _funnels(
    status: CampaignStatus, step: int, phone_id: str | None, variant: int | None
) -> Iterable[Funnel]:
    yield status.steps[step]
    if phone_id:
        yield status.phones[phone_id]
    yield status.variants[(step, variant or 0)]


@dataclass(frozen=True)
class SendBacklog:
    """What a campaign has left to send: leads waiting for step 0, and follow-ups by hour.

    ``followups`` holds (step, the UTC hour it is due, how many); an overdue step is
    due in the hour it was due, which is before now.
    """

    first_messages: int
    followups: tuple[tuple[int, datetime, int], ...]

    def followups_by_day(self, to_day: Callable[[datetime], date]) -> dict[tuple[int, date], int]:
        """The follow-ups keyed by (step, ``to_day(hour)``), e.g. the local day they are due."""
        days: dict[tuple[int, date], int] = defaultdict(int)
        for step, hour, count in self.followups:
            days[(step, to_day(hour))] += count
        return dict(days)


def send_backlog(connection: Connection, campaign_id: int | None, now: datetime) -> SendBacklog:
    """The running enrollments of the campaign whose current step is not sent yet
    (``None``: a campaign not launched, with nothing left).

    A step without a due time counts as due ``now``.
    """
    hour = _hour(connection, E.c.due_at)
    rows = connection.execute(
        select(E.c.step, hour, func.count())
        .where(
            E.c.campaign_id == (campaign_id or -1),
            E.c.state.in_(_RUNNING),
            E.c.step_state.in_((StepState.DUE, *_IN_FLIGHT)),
        )
        .group_by(E.c.step, hour)
    ).all()
    first = sum(int(count) for step, _, count in rows if step == 0)
    followups = tuple(
        (int(step), _as_utc(value, now), int(count)) for step, value, count in rows if step > 0
    )
    return SendBacklog(first, followups)


def sends_per_day(
    connection: Connection,
    *,
    campaign_id: int | None,
    first_day: date,
    last_day: date,
    zone: ZoneInfo,
) -> dict[str, dict[date, int]]:
    """The messages of a step each phone sent, by phone id and local day in ``zone``, from
    ``first_day`` to ``last_day`` included, for one campaign (``None``: every campaign).

    It counts what :func:`campaign_status` counts as ``sent`` (outbound messages of a step,
    whatever became of them), by their ``sent_at``. A day with no sends is absent.

    SQLite has no time zones, so the day is not computed in SQL: the local midnights of
    the range, turned into UTC instants here (daylight saving included, and zones a half
    or three quarters of an hour off UTC), bound the days, and one ``CASE`` numbers the day
    each send falls in. The same statement runs on both databases, served by the
    ``(direction, sent_at)`` index; it costs one comparison per day of the range per send.
    """
    days = (last_day - first_day).days + 1
    if days <= 0:
        return {}
    bounds = [
        datetime.combine(first_day + timedelta(days=n), time(), zone).astimezone(UTC)
        for n in range(days + 1)
    ]
    day = case(*((M.c.sent_at < bound, n) for n, bound in enumerate(bounds[1:])))
    sends = (
        select(M.c.phone_id, day, func.count())
        .where(
            M.c.direction == Direction.OUT,
            M.c.sent_at >= bounds[0],
            M.c.sent_at < bounds[-1],
            # A step's messages: automatic answers and messages a person typed have no step.
            M.c.step.is_not(None),
            M.c.phone_id.is_not(None),
        )
        .group_by(M.c.phone_id, day)
    )
    if campaign_id is not None:
        sends = sends.join(E, E.c.id == M.c.enrollment_id).where(E.c.campaign_id == campaign_id)
    found: dict[str, dict[date, int]] = defaultdict(dict)
    for phone_id, n, count in connection.execute(sends):
        found[phone_id][first_day + timedelta(days=int(n))] = int(count)
    return dict(found)


def _hour(connection: Connection, column: Any) -> Any:
    if connection.dialect.name == "postgresql":
        return func.date_trunc("hour", column)
    return func.strftime("%Y-%m-%d %H:00:00", column)


def _as_utc(value: datetime | str | None, now: datetime) -> datetime:
    if value is None:
        return now
    if isinstance(value, str):  # SQLite: the hour as text, in UTC
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
