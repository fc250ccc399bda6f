"""One safety benchmark run: files, database, leads, the services, the clock, the figures.

The clock is set so the virtual clock reaches a UTC midnight ``startup_s`` real seconds
after the services are started: with ``virtual = epoch + (real - epoch) * speed``, an
epoch just before the real start puts the virtual now that far ahead. Once every
service is up, the leads are imported and launched due at the next midnight (the
following one when the services took longer than ``startup_s``).
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as day_time
from pathlib import Path
from typing import Any

import redis
from sqlalchemy import func, select

from bench.safety_figures import Attempt, Figures, Similarity, compute
from bench.safety_figures import text_similarity as bench_similarity
from bench.scratch import REDIS_URL, drop_namespace, free_port
from engine.clock import SystemClock
from engine.db import Database
from engine.demo.children import Children, wait_http
from engine.demo.report import reply_moments
from engine.errors import ServiceUnavailableError
from engine.invariants import STEP_MARKER, in_flight_at_replies
from engine.runtime import build_database
from engine.settings import Settings, load_settings
from engine.tables import A, E, L, S
from engine.timelinesai.simulator import LoggedRequest, SimulatorHandle
from phones.quota import daily_quota
from sequences import compiled_sequences, import_leads, launch, suppression

SEQUENCE = "safety"
TOKEN = "safety-token"
INVALID_PREFIX, UNDELIVERED_PREFIX = "+40790", "+40791"
_NAMES = ("Ana", "Ion", "Maria", "Andrei", "Elena", "Mihai", "Ioana", "Radu", "Sofia", "Luca")
_COMPANIES = ("Acme", "Nordic Tea", "Carpati SRL", "Blue Fjord", "Danube Labs", "Solaris")
DEFAULT_HOURLY_CAP = 80  # the figure, until [quota] new_contacts_per_hour exists
# (age in days at the start, share of the phones): new, 5 and 10 days old, warmed up.
_AGES = ((0, 0.2), (5, 0.2), (10, 0.2))

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Plan:
    """Everything one run is made of, decided up front."""

    folder: Path
    phones: int
    leads: int
    days: int
    speed: float
    invalid: float
    undelivered: float
    replies: float
    opt_outs: float
    listed: float
    hourly_cap: int | None  # None: the engine's setting (80 until it has one)
    startup_s: float  # real seconds the services get to start before the virtual midnight
    database_url: str | None
    seed: int
    secret: str = field(repr=False)

    def describe(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("secret")
        data["folder"] = str(self.folder)
        return data

    def phone_numbers(self) -> list[str]:
        return [f"+4477009{i:05d}" for i in range(1, self.phones + 1)]

    def started_on(self, start: date) -> list[date | None]:
        """Each phone's ``started_on``: a fifth new, a fifth 5 and a fifth 10 days old."""
        ages: list[date | None] = []
        for age, share in _AGES:
            ages += [start - timedelta(days=age)] * round(self.phones * share)
        return (ages + [None] * self.phones)[: self.phones]


@dataclass
class Result:
    figures: Figures
    summary: dict[str, Any]


def run(plan: Plan, rng: random.Random, progress: Progress) -> Result:
    """Set up, run the services for ``plan.days`` virtual days from a midnight, judge."""
    midnight = datetime.combine(datetime.now(UTC).date() + timedelta(days=1), day_time(), UTC)
    namespace = f"safety{rng.getrandbits(32):08x}"
    ports = {"webhook": free_port(), "simulator": free_port()}
    csv_path = write_leads(plan, rng)
    config_path = write_config(plan, midnight, namespace, ports, epoch=None)
    settings = load_settings(config_path, {"TIMELINESAI_TOKEN": TOKEN})
    database = build_database(settings)
    database.upgrade()
    # The epoch that makes the virtual clock reach midnight startup_s real seconds from now.
    at_midnight = datetime.now(UTC) + timedelta(seconds=plan.startup_s)
    epoch = at_midnight + (at_midnight - midnight) / max(plan.speed - 1, 1e-9)
    write_config(plan, midnight, namespace, ports, epoch=epoch)
    write_simulator_config(plan, ports, epoch)
    clock = SystemClock(speed=plan.speed, epoch=epoch)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OUTREACH_")}
    env |= {
        "TIMELINESAI_TOKEN": TOKEN,
        "OUTREACH_WEBHOOK_SECRET": plan.secret,
        "OUTREACH_LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }
    children = Children(plan.folder, env)
    sim: SimulatorHandle | None = None
    try:
        sim = start_services(children, plan, config_path, ports)
        ready = clock.now()
        # Leads go in once every service is up, due at the next midnight (services slower
        # to start than startup_s cost a virtual day's wait, not a day without workers).
        start = midnight
        while start < ready:
            start += timedelta(days=1)
        if start > midnight:
            progress(f"the services were ready only at {ready:%H:%M} (virtual): a day later")
        imported = import_leads(database, csv_path, tag="safety", region="RO", now=start)
        launch(database, compiled_sequences(settings)[SEQUENCE], now=start,
               fallback_zone="UTC", tag="safety")  # fmt: skip
        progress(f"{imported.imported} leads launched for {start:%Y-%m-%d %H:%M} (virtual)")
        end = start + timedelta(days=plan.days)
        listed: set[str] | None = None
        next_note = start
        while clock.now() < end:
            dead = children.dead()
            if dead:
                tail = children.log_tail(dead[0], 5).replace("\n", " | ")
                raise ServiceUnavailableError(f"{dead[0]} stopped: {tail}")
            if listed is None and clock.now() >= start + timedelta(hours=12):
                listed = list_numbers(database, plan, rng, clock.now())
                progress(f"{len(listed)} numbers put on the do-not-contact list")
            if clock.now() >= next_note:
                progress(f"virtual {clock.now():%Y-%m-%d %H:%M}")
                next_note += timedelta(hours=6)
            time.sleep(0.2)
        log = sim.requests()
        deliveries = sim.deliveries()
    finally:
        children.stop_all()
        if sim is not None:
            sim.close()
        drop_namespace(redis.Redis.from_url(REDIS_URL), namespace)
    figures, summary = judge(plan, settings, database, log, deliveries, clock, start, end)
    summary["services_ready_at"] = ready.isoformat()
    database.dispose()
    return Result(figures, summary)


def start_services(
    children: Children, plan: Plan, config_path: Path, ports: dict[str, int]
) -> SimulatorHandle:
    """Start the simulator, the receiver, the scheduler, the replies worker and the workers."""
    sim_url = f"http://127.0.0.1:{ports['simulator']}"
    children.start(
        "simulator", "simulator", "serve", "--config", str(plan.folder / "sim.json"),
        "--port", str(ports["simulator"]),
    )  # fmt: skip
    if not wait_http(f"{sim_url}/_sim/config", 30, children, "simulator"):
        raise ServiceUnavailableError("the simulator did not start")
    config = ("--config", str(config_path))
    children.start("webhook", "webhook", "serve", *config)
    if not wait_http(f"http://127.0.0.1:{ports['webhook']}/healthz", 30, children, "webhook"):
        raise ServiceUnavailableError("the webhook receiver did not start")
    children.start("scheduler", "scheduler", *config)
    children.start("replies", "replies", "worker", *config)
    # At INFO each worker process says when it consumes: the run waits for both.
    children.env["OUTREACH_LOG_LEVEL"] = "INFO"
    children.start("workers", "worker", "--processes", "2", "--threads", "2", *config)
    deadline = time.monotonic() + 90
    while (plan.folder / "workers.log").read_text(errors="replace").count(" consuming ") < 2:
        if time.monotonic() > deadline or "workers" in children.dead():
            raise ServiceUnavailableError("the workers did not start")
        time.sleep(0.1)
    return SimulatorHandle(sim_url, TOKEN)


def write_leads(plan: Plan, rng: random.Random) -> Path:
    """The leads CSV: Romanian mobiles, shuffled, a share not on WhatsApp or never reached."""
    invalid = round(plan.leads * plan.invalid)
    undelivered = round(plan.leads * plan.undelivered)
    numbers: set[str] = set()
    rows = []
    for index in range(plan.leads):
        prefix = (
            INVALID_PREFIX
            if index < invalid
            else UNDELIVERED_PREFIX
            if index < invalid + undelivered
            else f"+407{rng.choice('2345')}"
        )
        number = prefix + f"{rng.randrange(10 ** (12 - len(prefix))):0{12 - len(prefix)}d}"
        while number in numbers:
            number = prefix + f"{rng.randrange(10 ** (12 - len(prefix))):0{12 - len(prefix)}d}"
        numbers.add(number)
        rows.append(f"{number},{rng.choice(_NAMES)},{rng.choice(_COMPANIES)}")
    rng.shuffle(rows)
    path = plan.folder / "leads.csv"
    path.write_text("phone,name,company\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def write_config(
    plan: Plan, start: datetime, namespace: str, ports: dict[str, int], epoch: datetime | None
) -> Path:
    """config.toml: defaults for pacing, quotas, warm-up and every safety rule; the clock
    and the scheduler's real-time plumbing set for the speed."""

    def real(seconds: float) -> float:  # virtual seconds lasting ``seconds`` real ones
        return round(seconds * plan.speed, 1)

    phones = []
    for index, (number, started) in enumerate(
        zip(plan.phone_numbers(), plan.started_on(start.date()), strict=True), 1
    ):
        phones.append(f'[[phones]]\nid = "{index:02d}"\nphone = "{number}"')
        if started is not None:
            phones.append(f"started_on = {started.isoformat()}")
    clock = (
        ""
        if epoch is None
        else f"[clock]\nspeed = {plan.speed}\nepoch = {epoch.strftime('%Y-%m-%dT%H:%M:%S.%fZ')}"
    )
    url = plan.database_url or "sqlite:///outreach.db"
    text = f"""# Written by bench/safety.py: production defaults except the clock's plumbing.
[database]
url = "{url}"
[redis]
url = "{REDIS_URL}"
namespace = "{namespace}"
[timelinesai]
base_url = "http://127.0.0.1:{ports["simulator"]}/integrations/api"
requests_per_minute = 1000000
[worker]
reconcile_after_s = {real(10)}
processes = 2
threads = 2
[scheduler]
dispatch_interval_s = {real(0.3)}
queue_ahead_s = {real(0.6)}
max_queued_per_phone = 10
requeue_after_s = {real(10)}
[webhook]
port = {ports["webhook"]}
{clock}
{chr(10).join(phones)}
[sequences.{SEQUENCE}]
# runs on whatever days it is run: public holidays do not close the window
skip_holidays = false
# the leads share a few company names: a reply holds nobody else here
on_company_reply = "continue"
timezone = "UTC"
[[sequences.{SEQUENCE}.steps]]
after = "0m"
template = "{{Hi|Hello|Good morning}} {{{{name}}}}, {{I saw|I noticed|I came across}} \
{{{{company}}}} and {{wanted to ask|had a quick question|was curious}} about \
{{your plans for next quarter|how you handle deliveries|the tools your team uses}}. [s0]"
[[sequences.{SEQUENCE}.steps]]
after = "1d"
template = "{{Any thoughts|A quick follow-up|Did you see my note}}, {{{{name}}}}? [s1]"
[[sequences.{SEQUENCE}.steps]]
after = "1d"
template = "Last note from me, {{{{name}}}}: {{happy to help|here if you need us}}. [s2]"
"""
    path = plan.folder / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def write_simulator_config(plan: Plan, ports: dict[str, int], epoch: datetime) -> None:
    """sim.json: the same accounts and clock; invalid and undelivered numbers; replies."""
    config = {
        "accounts": [{"phone": phone} for phone in plan.phone_numbers()],
        "speed": plan.speed,
        "epoch": epoch.isoformat(),
        "seed": plan.seed,
        "webhook_url": (
            f"http://127.0.0.1:{ports['webhook']}/webhooks/timelinesai?secret={plan.secret}"
        ),
        "sent_events": False,
        "reply_probability": plan.replies,
        "reply_delay_s": [600.0, 4 * 3600.0],
        "opt_out_probability": plan.opt_outs / plan.replies if plan.replies else 0.0,
        "webhook_retries": 1,
        "invalid_recipient_pattern": "^\\+?" + INVALID_PREFIX.lstrip("+"),
        "undelivered_recipient_pattern": "^\\+?" + UNDELIVERED_PREFIX.lstrip("+"),
    }
    (plan.folder / "sim.json").write_text(json.dumps(config, indent=2), encoding="utf-8")


def list_numbers(database: Database, plan: Plan, rng: random.Random, now: datetime) -> set[str]:
    """Put a share of the leads not yet handed to a phone on the do-not-contact list, in one
    transaction (nothing of theirs is queued or claimed, so no send of theirs may follow)."""
    with database.engine.begin() as connection:
        waiting = sorted(
            connection.execute(
                select(L.c.phone)
                .select_from(E.join(L, L.c.id == E.c.lead_id))
                .where(E.c.step == 0, E.c.step_state == "due", E.c.queued_at.is_(None))
                .where(E.c.state == "pending")
            ).scalars()
        )
        chosen = set(rng.sample(waiting, min(len(waiting), round(plan.leads * plan.listed))))
        for phone in sorted(chosen):
            suppression.add(connection, phone, reason="bench", source="safety bench", now=now)
    return chosen


def judge(
    plan: Plan,
    settings: Settings,
    database: Database,
    log: list[LoggedRequest],
    deliveries: list[dict[str, Any]],
    clock: SystemClock,
    start: datetime,
    end: datetime,
) -> tuple[Figures, dict[str, Any]]:
    """The figures from the simulator's log (in virtual time) and the database."""
    epoch, speed = clock.epoch, clock.speed

    def virtual(real: datetime) -> datetime:
        return epoch + (real - epoch) * speed

    phone_ids = {phone.phone.lstrip("+"): phone.id for phone in settings.phones}
    attempts = []
    for entry in log:
        marker = STEP_MARKER.search(entry.text or "")
        if not entry.is_send or entry.answered_at is None or marker is None:
            continue
        received = virtual(entry.received_at)
        if not start <= received < end:
            continue
        attempts.append(
            Attempt(
                phone_id=phone_ids.get((entry.account_phone or "").lstrip("+"), "?"),
                recipient=entry.recipient_phone or "",
                step=int(marker.group(1)),
                text=entry.text or "",
                received_at=received,
                answered_at=virtual(entry.answered_at),
                accepted=entry.status_code == 200,
            )
        )
    quotas = {
        (phone.id, day): daily_quota(
            settings.quota_for(phone),
            started_on=phone.started_on,
            today=day,
            warmup=settings.quota.warmup,
        )
        for phone in settings.phones
        for day in (start.date() + timedelta(days=n) for n in range(plan.days))
    }
    with database.engine.connect() as connection:
        listed = [
            (str(phone), str(reason), at)
            for phone, reason, at in connection.execute(
                select(S.c.phone, S.c.reason, S.c.created_at)
            )
        ]
        in_flight = in_flight_at_replies(connection)
        trips = [
            (str(p), at)
            for p, at in connection.execute(
                select(A.c.phone_id, A.c.created_at).where(A.c.kind == "phone_cooling")
            )
        ]
        alerts: dict[str, int] = dict(
            connection.execute(select(A.c.kind, func.count()).group_by(A.c.kind)).all()
        )
        states: dict[str, int] = dict(
            connection.execute(select(E.c.state, func.count()).group_by(E.c.state)).all()
        )
    suppressed = listing_moments(listed, attempts)
    replied = {phone: virtual(at) for phone, at in reply_moments(deliveries).items()}
    hourly_cap, window, threshold, measure = rule_settings(plan, settings)
    figures = compute(
        attempts,
        quotas=quotas,
        hourly_cap=hourly_cap,
        similarity=(window, threshold),
        measure=measure,
        suppressed_at=suppressed,
        in_flight=in_flight,
        replied_at=replied,
        breaker_trips=[(p, at) for p, at in trips if start <= at < end],
    )
    summary = {
        "accepted": sum(a.accepted for a in attempts),
        "refused": sum(not a.accepted for a in attempts),
        "new_chats": sum(a.accepted and a.step == 0 for a in attempts),
        "replies": len(replied),
        "suppressed": len(suppressed),
        "states": {str(k): int(v) for k, v in sorted(states.items())},
        "alerts": {str(k): int(v) for k, v in sorted(alerts.items())},
        "breaker_trips": len(trips),
        "start": start.isoformat(),
        "hourly_cap": hourly_cap,
        "similarity": {"window": window, "threshold": threshold, "measure": measure.__module__},
    }
    return figures, summary


def listing_moments(
    listed: Sequence[tuple[str, str, datetime]], attempts: list[Attempt]
) -> dict[str, datetime]:
    """When each number went on the list. A number refused as not on WhatsApp is listed by
    the send that was refused (stamped with the moment it was claimed): it counts from the
    refusal's answer, and only a later attempt is a send to a suppressed number."""
    refused: dict[str, datetime] = {}
    for attempt in attempts:
        if not attempt.accepted:
            refused.setdefault(attempt.recipient, attempt.answered_at)
    moments = {}
    for phone, reason, at in listed:
        by_refusal = reason == suppression.NOT_ON_WHATSAPP_REASON and phone in refused
        moments[str(phone)] = max(at, refused[phone]) if by_refusal else at
    return moments


def rule_settings(plan: Plan, settings: Settings) -> tuple[int, int, float, Similarity]:
    """The hourly cap, and the near-identical window, threshold and measure, as the engine
    has them once those rules are merged (``[quota] new_contacts_per_hour``, ``[texts]``,
    ``spintax.text_similarity``); until then the issue's defaults and the bench's measure.
    ``--hourly-cap`` overrides the cap."""
    cap = getattr(settings.quota, "new_contacts_per_hour", DEFAULT_HOURLY_CAP)
    texts = getattr(settings, "texts", None)
    window = int(getattr(texts, "window", 20))
    threshold = float(getattr(texts, "similarity_threshold", 0.8))
    try:
        from spintax import text_similarity as measure  # type: ignore[attr-defined]
    except ImportError:
        measure = bench_similarity
    return (cap if plan.hourly_cap is None else plan.hourly_cap), window, threshold, measure
