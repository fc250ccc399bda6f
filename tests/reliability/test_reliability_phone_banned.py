"""A phone is banned by WhatsApp (or its account disconnects for good) in the middle of
a campaign (issue 9).

Real processes: a scheduler and 2 worker processes x 2 threads on PostgreSQL and the
shared Redis (the test's own namespace), the simulator at 5000x (a quota day lasts
about 17 s; pacing gaps of 30-60 s virtual are 6-12 ms). 4 phones with a quota of 8 new
contacts a day each, 40 leads (``--scale`` multiplies leads and quota) through a 2-step
sequence (the follow-up 1 minute after the first message). The simulator bans phone 01
after its 7th accepted send, while it still has first messages and follow-ups queued:
the engine sees the ban as the refusal of its next send (``AccountBanned``), or first as
a merely disconnected account in its phone sync (TimelinesAI reports a ban that way).
The second run disconnects phone 01 instead, for good: the engine only ever sees it
offline.

The campaign starts in the middle of a virtual UTC day, so the 3 remaining phones use up
their quota that day and the leads phone 01 could not take wait for the next one.

It proves, from the simulator's request log and the database's final states:

- every lead phone 01 had not contacted before the ban got its first message exactly
  once, from another phone, and its follow-up from that same phone;
- no phone starts more new conversations in a day than its quota, no step went out
  twice, no phone had two sends in flight;
- phone 01 sent nothing after the ban (at most the one attempt in flight is refused);
- the leads phone 01 had contacted never hear from another phone: each got its follow-up
  from phone 01 before the ban (``completed``) or ends ``failed``/``phone_banned`` once
  the banned phone's grace (``banned_phone_grace_s``, 1 virtual hour here) has passed,
  or ``failed``/``phone_offline`` once the offline phone's (``offline_phone_grace_s``,
  the same hour) has: without that bound, a phone left offline kept them waiting for
  ever and this run never ended;
- the ban (or the disconnection) is in the alerts table.

The sizes are the smallest that prove it (about 12 s of wall time a run, mostly the virtual
day-one wait for midnight); ``--scale`` multiplies leads and quotas. This scenario found
a worker sending a first message from its phone after the dispatcher had requeued that
message as lost and given it to another phone, so the follow-up went out from a phone
the lead had never heard from (fixed: the claim now names the phone).
"""

from __future__ import annotations

import re
import time
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from engine.db import Database
from engine.invariants import Send, _virtual, accepted_sends, check
from engine.models import Alert, Enrollment, Lead
from engine.timelinesai.simulator import (
    LoggedRequest,
    SimAccount,
    SimulatorConfig,
    running_simulator,
)
from tests.e2e.conftest import (
    Services,
    epoch_for,
    running,
    seed_campaign,
    wait_until,
    write_engine_config,
)
from tests.reliability.conftest import figures, scaled

SPEED = 5000.0
PHONES = [f"+4477009100{i:02d}" for i in range(1, 5)]
BANNED = PHONES[0]
BAN_AFTER_SENDS = 7
LEADS = 40
QUOTA = 8
GRACE_S = 3600.0
# Real seconds from writing the config until the first virtual midnight: time enough for
# the processes to start and for day 1's quotas to fill.
DAY_ONE_REAL_S = 10.0
CHAT_SEND = re.compile(r"^/chats/(\d+)/messages$")


def write_config(
    folder: Path, *, database_url: str, namespace: str, base_url: str, epoch: datetime, quota: int
) -> Path:
    return write_engine_config(
        folder, database_url=database_url, namespace=namespace, base_url=base_url,
        epoch=epoch, speed=SPEED, phones=PHONES,
        body=f"""
[pacing]
jitter_min_s = 30
jitter_max_s = 60
[quota]
new_contacts_per_day = {quota}
timezone = "UTC"
warmup = []
[worker]
lease_ttl_s = 3
send_time_limit_s = 2
reconcile_after_s = 600
[breaker]
enabled = false
check_cron = "0 0 1 1 *"
[scheduler]
workspace_quota_cron = "0 0 1 1 *"
# The ban is learned from the refused send, or first from the phone sync, which reads
# the banned account as merely disconnected: then the phone is offline, and its
# contacted leads end after offline_phone_grace_s (every 30 virtual minutes: 0.36 s).
phone_sync_cron = "*/30 * * * *"
offline_phone_grace_s = {GRACE_S}
dispatch_interval_s = 1000
# The default: 0.36 s real at 5000x, so first messages waiting in a busy queue are
# requeued as lost and may move to another phone while a worker already holds them.
requeue_after_s = 1800
max_queued_per_phone = 3
banned_phone_grace_s = {GRACE_S}
[sequences.intro]
skip_holidays = false
on_company_reply = "continue"
timezone = "UTC"
[[sequences.intro.steps]]
after = "0m"
template = "Hello {{{{name|there}}}}, a question for you [s0]"
[[sequences.intro.steps]]
after = "1m"
template = "Following up, {{{{name|there}}}} [s1]"
""",
    )  # fmt: skip


def attempts_from(log: list[LoggedRequest], phone: str) -> list[LoggedRequest]:
    """Every send (accepted or refused) made from ``phone``, in arrival order.

    A send into a chat names no account: its chat's account is known from the
    accepted sends that opened or used the chat.
    """
    chats = {e.chat_id: e.account_phone for e in log if e.chat_id and e.account_phone}
    found = []
    for entry in log:
        if not entry.is_send:
            continue
        account = entry.account_phone
        chat = CHAT_SEND.match(entry.path)
        if account is None and chat is not None:
            account = chats.get(int(chat.group(1)))
        if account == phone:
            found.append(entry)
    return found


# How phone 01 goes: the simulated account's limit, and what its contacted leads may end
# with (the same names as the alerts that may tell of it).
MODES = {
    "banned": ("ban_after_sends", {"phone_banned", "phone_offline"}),
    "disconnected": ("disconnect_after_sends", {"phone_offline"}),
}


@pytest.mark.parametrize("mode", MODES)
def test_banned_phone_leaves_the_pool_and_its_leads_end_named(
    mode: str,
    services: Services,
    pg_database: Database,
    pg_url: str,
    redis_namespace: str,
    tmp_path: Path,
    scale: float,
) -> None:
    leads_count, quota = scaled(LEADS, scale), scaled(QUOTA, scale)
    real_start = datetime.now(UTC)
    first_midnight = datetime(2027, 1, 13, tzinfo=UTC)  # a Wednesday; any day would do
    virtual_start = first_midnight - timedelta(seconds=DAY_ONE_REAL_S * SPEED)
    epoch = epoch_for(virtual_start, SPEED, real_start)
    leads = seed_campaign(pg_database, leads_count, virtual_start - timedelta(hours=1))
    limit, reasons = MODES[mode]
    accounts = [SimAccount(phone=BANNED, **{limit: BAN_AFTER_SENDS})]  # type: ignore[arg-type]
    accounts += [SimAccount(phone=p) for p in PHONES[1:]]
    sim_config = SimulatorConfig(
        accounts=tuple(accounts), speed=SPEED, epoch=epoch, sent_events=False
    )
    started = time.monotonic()
    with running_simulator(sim_config) as sim:
        write_config(tmp_path, database_url=pg_url, namespace=redis_namespace,
                     base_url=sim.base_url, epoch=epoch, quota=quota)  # fmt: skip
        services.start("scheduler", "scheduler")
        services.start("workers", "worker", "--processes", "2", "--threads", "2")
        logs = lambda: services.log("scheduler") + services.log("workers")  # noqa: E731
        assert wait_until(lambda: running(pg_database) == 0, 150), logs()
        log = sim.requests()
    services.stop("workers")
    services.stop("scheduler")
    wall_s = time.monotonic() - started

    sends = accepted_sends(log)
    report = check(
        sends, jitter_min_s=30, speed=SPEED, epoch=epoch,
        quota_per_day=dict.fromkeys(PHONES, quota), quota_timezone="UTC",
    )  # fmt: skip
    with pg_database.engine.connect() as connection:
        rows = connection.execute(
            select(Lead.phone, Enrollment.state, Enrollment.end_reason).join(  # type: ignore[call-overload]
                Enrollment, Enrollment.lead_id == Lead.id
            )
        ).all()
        alerts = connection.execute(
            select(Alert.kind, Alert.phone_id, Alert.severity)  # type: ignore[call-overload]
        ).all()
    ends = {str(phone): (str(state), end_reason) for phone, state, end_reason in rows}

    # The ban happened, and phone 01 sent nothing after it (one attempt may have been
    # in flight: it is refused).
    from_banned = attempts_from(log, BANNED)
    accepted_banned = [e for e in from_banned if e.status_code == 200]
    assert len(accepted_banned) == BAN_AFTER_SENDS, [e.status_code for e in from_banned]
    ban_at = accepted_banned[-1].received_at
    after_ban = [e for e in from_banned if e.received_at > ban_at]
    assert all(e.status_code == 400 for e in after_ban), after_ban
    assert len(after_ban) <= 1, after_ban

    by_lead: dict[str, dict[int, list[Send]]] = defaultdict(lambda: defaultdict(list))
    for send in sends:
        by_lead[send.recipient][send.step].append(send)
    contacted = {s.recipient for s in sends if s.account == BANNED and s.step == 0}
    lost, stranded, completed_on_banned, moved = [], 0, 0, 0
    for lead in leads:
        steps = by_lead.get(lead, {})
        firsts, followups = steps.get(0, []), steps.get(1, [])
        state, reason = ends[lead]
        if lead in contacted:
            # Its chat lives on phone 01: nothing from another phone, ever.
            assert all(s.account == BANNED for s in firsts + followups), (lead, steps)
            if followups:
                completed_on_banned += 1
                assert state == "completed", (lead, state)
            else:
                stranded += 1
                assert state == "failed" and reason in reasons, (lead, state, reason)
            continue
        # Not contacted by phone 01 before the ban: exactly one first message, from
        # another phone, and the follow-up from that same phone.
        if len(firsts) != 1 or len(followups) != 1 or state != "completed":
            lost.append((lead, len(firsts), len(followups), state))
            continue
        assert firsts[0].account != BANNED
        assert followups[0].account == firsts[0].account, (lead, firsts, followups)
    for entry in (e for e in after_ban if "[s0]" in (e.text or "")):
        moved += 1  # the lead whose first message met the ban went out from another phone
        assert entry.recipient_phone in by_lead, entry
        assert by_lead[entry.recipient_phone or ""][0][0].account != BANNED

    days: Counter[date] = Counter(
        _virtual(s.received_at, epoch, SPEED).date() for s in sends if s.step == 0
    )
    # The alert kinds are the end reasons' names: phone_banned, phone_offline.
    ban_alerts = [a for a in alerts if a.kind in reasons and a.phone_id == "01"]
    figures(
        f"phone_{mode}",
        leads=leads_count, sends=report.sends, duplicates=report.duplicates, lost=len(lost),
        quota_overruns=report.quota_overruns, overlaps=report.overlaps,
        banned_sends=len(accepted_banned), refused_after_ban=len(after_ban),
        stranded_failed=stranded, completed_on_banned=completed_on_banned,
        moved_at_ban=moved, first_messages_per_day="/".join(str(days[d]) for d in sorted(days)),
        alerts=len(ban_alerts), wall_s=wall_s,
    )  # fmt: skip
    assert report.duplicates == 0, report.problems[:10]
    assert report.overlaps == 0, report.problems[:10]
    assert report.quota_overruns == 0, report.problems[:10]
    assert lost == [], lost[:10]
    assert stranded > 0  # the ban left contacted leads behind, and they ended named
    assert ban_alerts, alerts
    # The quota held the leads phone 01 could not take: they went out the next day.
    assert len(days) >= 2, days
    assert report.sends == 2 * (leads_count - len(contacted)) + len(contacted) + completed_on_banned
