"""A campaign across a daylight-saving change and across the quota's local midnight (issue 9).

Real processes (a scheduler, a worker process with 3 threads, PostgreSQL, the shared
Redis in the test's own namespace, the simulator) with the clock at 8000x, its epoch
chosen so that the virtual clock reads Saturday 2027-03-27 19:00 in Bucharest 12 real
seconds after the test starts (time for the processes to start while it runs through
Saturday afternoon). That night Europe/Bucharest springs forward: on Sunday 28 March
03:00 EET becomes 04:00 EEST (01:00 UTC). Sequence, window and quota all follow that zone:

- the send window is 03:30-24:00 local, every day. On Sunday 03:30 does not exist: the
  window opens at the transition itself, 04:00 EEST;
- the quota is 5 new contacts a local day per phone, 3 phones, 27 leads (``--scale``
  multiplies leads and quota): 15 leads go out on Saturday evening, the other 12 wait
  past the local midnight and the closed night for Sunday's opening;
- the follow-up comes 9 hours after the first message: Saturday's follow-ups (first
  messages from 19:00 EET) fall due across the change, from 05:00 EEST on; adding 9
  hours to the wall clock instead would give 04:00 EEST, only 8 elapsed hours.

The campaign itself lasts about 17 virtual hours (some 8 s at 8000x; with the start-up
time, about 20 s). Everything is judged from the simulator's request log, converted to
virtual local time, and the database: every send inside the local window, no phone over
its quota on any local day, no step twice, every enrollment ``completed``, every
follow-up at least 9 elapsed hours after its first message, and sends on both local
days, Sunday being the 23-hour DST day, with Saturday's quota filled.
"""

from __future__ import annotations

import time as clock
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from engine.db import Database
from engine.invariants import _virtual, accepted_sends, check
from engine.timelinesai.simulator import SimAccount, SimulatorConfig, running_simulator
from tests.e2e.conftest import (
    Services,
    end_states,
    epoch_for,
    seed_campaign,
    wait_until,
    write_engine_config,
)
from tests.reliability.conftest import figures, scaled

SPEED = 8000.0
ZONE = "Europe/Bucharest"
PHONES = [f"+4477009200{i:02d}" for i in range(1, 4)]
LEADS = 27
QUOTA = 5
WINDOW = (time(3, 30), None)  # 03:30 to the end of the day, local
FOLLOW_UP_S = 9 * 3600.0
# The leads are due at Saturday 19:00 local (17:00 UTC): the window is open until
# midnight, and a follow-up 9 h after a first message of that evening is due after the
# change (01:00 UTC), when Sunday's window is open again. Saturday's first messages may
# start as late as about 23:00 (slow process start-ups) and still prove all that.
DUE = datetime(2027, 3, 27, 19, 0, tzinfo=ZoneInfo(ZONE))
DST_DAY = date(2027, 3, 28)
# Real seconds from the start of the test until the leads are due: time for the
# processes to start while the virtual clock runs through Saturday afternoon.
STARTUP_REAL_S = 12.0


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
timezone = "{ZONE}"
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
dispatch_interval_s = 600
requeue_after_s = 7200
[sequences.intro]
skip_holidays = false
on_company_reply = "continue"
timezone = "{ZONE}"
send_window = {{ days = "mon-sun", start = "03:30", end = "24:00" }}
[[sequences.intro.steps]]
after = "0m"
template = "Hello {{{{name|there}}}}, a question for you [s0]"
[[sequences.intro.steps]]
after = "9h"
template = "Following up, {{{{name|there}}}} [s1]"
""",
    )  # fmt: skip


def in_window(local: datetime) -> bool:
    start, end = WINDOW
    wall = local.time()
    return wall >= start and (end is None or wall < end)


def is_dst_change_day(day: date, zone: ZoneInfo) -> bool:
    midnight = datetime.combine(day, time(0), tzinfo=zone)
    return midnight.utcoffset() != datetime.combine(day, time(23, 59), tzinfo=zone).utcoffset()


def test_windows_and_quotas_follow_local_time_across_dst_and_midnight(
    services: Services,
    pg_database: Database,
    pg_url: str,
    redis_namespace: str,
    tmp_path: Path,
    scale: float,
) -> None:
    zone = ZoneInfo(ZONE)
    assert is_dst_change_day(DST_DAY, zone)
    leads_count, quota = scaled(LEADS, scale), scaled(QUOTA, scale)
    due = DUE.astimezone(UTC)
    real_start = datetime.now(UTC)
    epoch = epoch_for(due - timedelta(seconds=STARTUP_REAL_S * SPEED), SPEED, real_start)
    leads = seed_campaign(pg_database, leads_count, due, prefix="+4074")
    sim_config = SimulatorConfig(
        accounts=tuple(SimAccount(phone=p) for p in PHONES),
        speed=SPEED,
        epoch=epoch,
        sent_events=False,
    )
    started = clock.monotonic()
    with running_simulator(sim_config) as sim:
        write_config(tmp_path, database_url=pg_url, namespace=redis_namespace,
                     base_url=sim.base_url, epoch=epoch, quota=quota)  # fmt: skip
        services.start("scheduler", "scheduler")
        services.start("workers", "worker", "--processes", "1", "--threads", "3")
        logs = lambda: services.log("scheduler") + services.log("workers")  # noqa: E731
        done = lambda: end_states(pg_database) == Counter(completed=leads_count)  # noqa: E731
        assert wait_until(done, 150), (end_states(pg_database), logs())
        log = sim.requests()
    services.stop("workers")
    services.stop("scheduler")
    wall_s = clock.monotonic() - started

    sends = accepted_sends(log)
    report = check(
        sends, jitter_min_s=30, speed=SPEED, epoch=epoch,
        quota_per_day=dict.fromkeys(PHONES, quota), quota_timezone=ZONE,
    )  # fmt: skip
    local = {id(s): _virtual(s.received_at, epoch, SPEED).astimezone(zone) for s in sends}
    outside = [(s.recipient, s.step, local[id(s)].isoformat()) for s in sends
               if not in_window(local[id(s)])]  # fmt: skip
    firsts_per_day: Counter[date] = Counter(local[id(s)].date() for s in sends if s.step == 0)
    sends_per_day: Counter[date] = Counter(local[id(s)].date() for s in sends)
    # Follow-ups: at least the step's delay after the first message, in elapsed time.
    first_answered = {s.recipient: s.answered_at for s in sends if s.step == 0}
    early = []
    crossed = 0
    for send in (s for s in sends if s.step == 1):
        elapsed_s = (send.received_at - first_answered[send.recipient]).total_seconds() * SPEED
        if elapsed_s < FOLLOW_UP_S:
            early.append((send.recipient, elapsed_s))
        first_local = _virtual(first_answered[send.recipient], epoch, SPEED).astimezone(zone)
        if first_local.utcoffset() != local[id(send)].utcoffset():
            crossed += 1  # this delay ran across the change
    per_lead = Counter((s.recipient, s.step) for s in sends)
    missing = [lead for lead in leads if per_lead[(lead, 0)] != 1 or per_lead[(lead, 1)] != 1]
    startup_s = (sends[0].received_at - real_start).total_seconds() if sends else -1.0
    dst_sends = sorted(local[id(s)] for s in sends if local[id(s)].date() == DST_DAY)
    figures(
        "clock_edges",
        leads=leads_count, sends=report.sends, duplicates=report.duplicates, lost=len(missing),
        quota_overruns=report.quota_overruns, overlaps=report.overlaps,
        outside_window=len(outside), early_followups=len(early), crossed_dst=crossed,
        first_messages_per_day="/".join(f"{d:%a}:{n}" for d, n in sorted(firsts_per_day.items())),
        dst_day_opened=dst_sends[0].strftime("%H:%M%z") if dst_sends else "-",
        wall_s=wall_s, startup_s=startup_s,
    )  # fmt: skip
    assert report.duplicates == 0, report.problems[:10]
    assert report.overlaps == 0, report.problems[:10]
    assert report.quota_overruns == 0, report.problems[:10]
    assert outside == [], outside[:10]
    assert early == [], early[:10]
    assert missing == [], missing[:10]
    assert report.sends == 2 * leads_count
    # The days really rolled over: sends on two local days, one of them the DST day,
    # and the quota (not the window) held leads over the local midnight.
    assert len(sends_per_day) >= 2 and DST_DAY in sends_per_day, sends_per_day
    startup = f"first send {startup_s:.1f} s after the start: processes too slow to start?"
    assert firsts_per_day[DST_DAY - timedelta(days=1)] == quota * len(PHONES), (
        firsts_per_day,
        startup,
    )
    assert firsts_per_day[DST_DAY] > 0, firsts_per_day
    assert crossed > 0  # some follow-ups were due across the change
