"""The reply loop through ``outreach serve`` alone, on the embedded default (SQLite).

As a new user runs it: leads imported and a campaign launched with the CLI, then
only ``outreach serve`` (workers, scheduler, webhook receiver, replies worker) against
the simulator, whose leads reply (some urgently, some asking to stop). When every lead
has ended, the replies are classified by the replies worker that serve started, the
urgent ones are in ``outreach replies review --json`` with the leads' full numbers,
each opt-out got its automatic confirmation once, ``outreach campaign status --json``
counts every lead who replied, and no step reached a lead after its reply was
answered unless the reply found it in flight.
"""

from __future__ import annotations

import json
import signal
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from cli.main import run
from engine.db import Database
from engine.demo.report import reply_moments
from engine.invariants import accepted_sends, check, in_flight_at_replies, sends_after_replies
from engine.models import AutoReply, Campaign, Message, ReviewFlag
from engine.timelinesai.simulator import SimAccount, SimulatorConfig, running_simulator
from tests.e2e.conftest import Services, healthy, running, wait_until, write_engine_config
from tests.reliability.faults import free_port

SPEED = 600.0
PHONES = ("+447700900301", "+447700900302", "+447700900303")
LEADS = 30
SECRET = "serve-e2e-secret"
URGENT = "Sunați-mă mâine la 10, e urgent"
CONFIRMATION = "Done, you will not hear from us again."


def _config(folder: Path, *, namespace: str, base_url: str, port: int, epoch: datetime) -> Path:
    return write_engine_config(
        folder, database_url="sqlite:///outreach.db", namespace=namespace, base_url=base_url,
        epoch=epoch, speed=SPEED, phones=PHONES,
        body=f"""
[pacing]
jitter_min_s = 5
jitter_max_s = 10
[quota]
new_contacts_per_day = 1000
warmup = []
[worker]
lease_ttl_s = 5
send_time_limit_s = 3
processes = 1
threads = 2
[breaker]
enabled = false
check_cron = "0 0 1 1 *"
[scheduler]
workspace_quota_cron = "0 0 1 1 *"
dispatch_interval_s = 120
requeue_after_s = 3000
[webhook]
port = {port}
[replies]
opt_out_auto_reply = "{CONFIRMATION}"
[sequences.intro]
skip_holidays = false
on_company_reply = "continue"
timezone = "UTC"
[[sequences.intro.steps]]
after = "0m"
template = "Hello {{{{name|there}}}}, a question for {{{{company|you}}}} [s0]"
[[sequences.intro.steps]]
after = "2h"
template = "Any thoughts, {{{{name|there}}}}? [s1]"
""",
    )  # fmt: skip


def test_serve_alone_runs_the_whole_reply_loop(
    services: Services, tmp_path: Path, redis_namespace: str, capsys: pytest.CaptureFixture[str]
) -> None:
    epoch = datetime.now(UTC)
    port = free_port()
    sim_config = SimulatorConfig(
        accounts=tuple(SimAccount(phone=p) for p in PHONES), speed=SPEED, epoch=epoch, seed=3,
        webhook_url=f"http://127.0.0.1:{port}/webhooks/timelinesai?secret={SECRET}",
        sent_events=False, reply_probability=0.5, reply_delay_s=(60.0, 1200.0),
        reply_texts=(URGENT, "Sounds good", "Who is this?"), opt_out_probability=0.15,
    )  # fmt: skip
    with running_simulator(sim_config) as sim:
        config = _config(tmp_path, namespace=redis_namespace, base_url=sim.base_url,
                         port=port, epoch=epoch)  # fmt: skip
        numbers = [f"+4074100{i:04d}" for i in range(LEADS)]
        (tmp_path / "leads.csv").write_text(
            "phone,name,company\n" + "".join(f"{n},Lead{i},Acme\n" for i, n in enumerate(numbers))
        )
        assert run(["db", "upgrade", "--config", str(config)]) == 0
        assert run(["leads", "import", str(tmp_path / "leads.csv"), "--config", str(config)]) == 0
        assert run(["campaign", "launch", "intro", "--config", str(config)]) == 0
        capsys.readouterr()
        database = Database(f"sqlite:///{tmp_path / 'outreach.db'}")
        services.env["OUTREACH_WEBHOOK_SECRET"] = SECRET
        serve = services.start("serve", "serve", "--config", str(config))
        try:
            assert wait_until(lambda: healthy(f"http://127.0.0.1:{port}"), 60), services.log(
                "serve"
            )
            assert wait_until(lambda: running(database) == 0, 150, 0.5), services.log("serve")
            # Leads may still answer the last step: the simulator's longest reply delay.
            time.sleep(sim_config.reply_delay_s[1] / SPEED + 0.5)
            assert wait_until(lambda: _unclassified(database) == 0, 60), services.log("serve")
            assert wait_until(lambda: _answers_open(database) == 0, 60), services.log("serve")
            assert wait_until(lambda: _campaign_state(database) == "completed", 30)
            deliveries = [d for d in sim.deliveries() if d["event_type"] == "message:received:new"]
            log = sim.requests()
        finally:
            serve.send_signal(signal.SIGTERM)
            assert serve.wait(60) == 0, services.log("serve")
            services.processes.pop("serve")

    with database.engine.connect() as connection:
        repliers = set(
            connection.execute(
                select(Message.lead_id).where(Message.direction == "in").distinct()
            ).scalars()
        )
        flags = connection.execute(select(func.count()).select_from(ReviewFlag)).scalar_one()
        answers = connection.execute(select(AutoReply.state, AutoReply.rule)).all()
        in_flight = in_flight_at_replies(connection)
    database.dispose()
    assert len(repliers) >= 5 and flags >= 1, (len(repliers), flags)

    # The urgent replies are in front of a person, with the number to call back.
    assert run(["replies", "review", "--json", "--config", str(config)]) == 0
    review = json.loads(capsys.readouterr().out)["review"]
    assert len(review) == flags
    assert {item["phone"] for item in review} <= set(numbers)
    assert all(item["text"] == URGENT and item["campaign"] == "intro" for item in review)

    # Every lead who replied is counted, classified or not.
    assert run(["campaign", "status", "intro", "--json", "--config", str(config)]) == 0
    [status] = json.loads(capsys.readouterr().out)["campaigns"]
    assert status["total"]["replied"] == len(repliers)
    assert status["state"] == "completed"

    # Each opt-out got its confirmation, once, from the phone it wrote to.
    opt_outs = {d["body"]["chat"]["phone"] for d in deliveries if d["body"]["message"]["text"]
                in sim_config.opt_out_texts}  # fmt: skip
    assert {(state, rule) for state, rule in answers} <= {("sent", "opt_out")}
    confirmations = [e for e in log if e.is_send and e.text == CONFIRMATION]
    assert len(confirmations) == len(answers) == len(opt_outs)
    assert all(e.status_code == 200 for e in confirmations)

    sends = accepted_sends(log)
    report = check(sends, jitter_min_s=5, speed=SPEED, epoch=epoch,
                   quota_per_day=dict.fromkeys(PHONES, 1000), quota_timezone="UTC")  # fmt: skip
    answered = reply_moments(deliveries)  # each lead's first reply answered 200
    assert all(d["status_code"] == 200 for d in deliveries)
    assert sends_after_replies(sends, answered, in_flight) == []
    assert report.duplicates == 0 and report.overlaps == 0, report.problems[:5]


def _campaign_state(database: Database) -> str:
    with database.engine.connect() as connection:
        return str(connection.execute(select(Campaign.state)).scalar_one())


def _unclassified(database: Database) -> int:
    with database.engine.connect() as connection:
        return int(
            connection.execute(
                select(func.count())
                .select_from(Message)
                .where(Message.direction == "in", Message.classified_at.is_(None))  # type: ignore[union-attr]
            ).scalar_one()
        )


def _answers_open(database: Database) -> int:
    with database.engine.connect() as connection:
        return int(
            connection.execute(
                select(func.count())
                .select_from(AutoReply)
                .where(AutoReply.state.in_(("due", "queued", "sending")))  # type: ignore[attr-defined]
            ).scalar_one()
        )
