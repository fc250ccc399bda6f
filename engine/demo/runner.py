"""Drive one demo: prepare the database, start the children, play the story, judge it.

The story, in virtual time from the start: leads reply on their own (the
simulator's ``reply_probability``); after 2 h one contacted lead writes STOP; at 6 h
one phone disconnects and at 14 h it is connected again; one number is not on
WhatsApp. Everything else is the production engine at ``[clock] speed``.
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from engine.clock import SystemClock
from engine.db import Database
from engine.demo.children import Children, wait_http
from engine.demo.leads import generate_leads
from engine.demo.report import DemoReport, build_report
from engine.demo.setup import OFFLINE_PHONE, PHONES, SEQUENCE, DemoPlan, write_files
from engine.errors import ServiceUnavailableError
from engine.invariants import accepted_sends, check, in_flight_at_replies
from engine.runtime import build_database
from engine.settings import Settings, load_settings
from engine.tables import E, running
from engine.timelinesai.simulator import SimulatorHandle
from sequences import compiled_sequences, import_leads, launch

SIM_TOKEN = "demo-token"  # noqa: S105 - the simulator takes any token
OPT_OUT_AT_S = 2 * 3600.0
OFFLINE_AT_S = 6 * 3600.0
ONLINE_AT_S = 14 * 3600.0


class Demo:
    """One run. ``prepare``, ``start``, then ``tick`` until ``done``; ``stop`` always."""

    def __init__(self, plan: DemoPlan, env: Mapping[str, str]) -> None:
        self.plan = plan
        self.env = {k: v for k, v in env.items() if not k.startswith("OUTREACH_")}
        self.env.update(  # the simulator takes any token
            TIMELINESAI_TOKEN=SIM_TOKEN,
            OUTREACH_WEBHOOK_SECRET=plan.secret,
            PYTHONUNBUFFERED="1",
        )
        self.clock = SystemClock(speed=plan.speed, epoch=plan.epoch)
        self.children = Children(plan.folder, self.env)
        self.settings: Settings | None = None
        self.database: Database | None = None
        self.sim: SimulatorHandle | None = None
        self.imported = self.rejected = 0
        self.events: list[str] = []
        self._offline = self._online = False
        self.opted_out: str | None = None
        self._started = time.monotonic()
        self._invalid = ""

    # -- setup ----------------------------------------------------------------------------
    def prepare(self) -> None:
        """Write the configs, create the database, import the leads and launch the sequence."""
        leads = generate_leads(self.plan.leads, random.Random(self.plan.seed))
        self._invalid = leads.invalid_number
        write_files(self.plan, leads.invalid_number)
        csv_path = self.plan.folder / "leads.csv"
        csv_path.write_text(leads.csv_text, encoding="utf-8")
        self.settings = load_settings(self.plan.config_path, self.env)
        self.database = build_database(self.settings)
        self.database.upgrade()
        report = import_leads(
            self.database, csv_path, tag="demo", region="RO", now=self.clock.now()
        )
        self.imported, self.rejected = report.imported, report.invalid
        sequence = compiled_sequences(self.settings)[SEQUENCE]
        launch(self.database, sequence, now=self.clock.now(), fallback_zone="UTC", tag="demo")

    def start(self) -> None:
        """Start the simulator, the webhook receiver, the scheduler and the workers."""
        plan = self.plan
        self.children.start(
            "simulator", "simulator", "serve", "--config", str(plan.sim_config_path),
            "--port", str(plan.simulator_port),
        )  # fmt: skip
        if not wait_http(f"{plan.simulator_url}/_sim/config", 30, self.children, "simulator"):
            raise ServiceUnavailableError(self._failed("simulator"))
        self.sim = SimulatorHandle(plan.simulator_url, SIM_TOKEN)
        config = ("--config", str(plan.config_path))
        self.children.start("webhook", "webhook", "serve", *config)
        healthz = f"http://127.0.0.1:{plan.webhook_port}/healthz"
        if not wait_http(healthz, 30, self.children, "webhook"):
            raise ServiceUnavailableError(self._failed("webhook"))
        self.children.start("scheduler", "scheduler", *config)
        self.children.start("replies", "replies", "worker", *config)
        self.children.start("workers", "worker", "--processes", "2", "--threads", "2", *config)
        self._started = time.monotonic()

    def _failed(self, name: str) -> str:
        tail = self.children.log_tail(name, 5).replace("\n", " | ")
        return f"the demo's {name} did not start (see {self.plan.folder / name}.log): {tail}"

    # -- the story -------------------------------------------------------------------------
    @property
    def virtual_elapsed_s(self) -> float:
        return (time.monotonic() - self._started) * self.plan.speed

    def tick(self) -> None:
        """Play the story's next event when its moment came; raise if a child died."""
        dead = self.children.dead()
        if dead:
            raise ServiceUnavailableError(self._failed(dead[0]))
        assert self.sim is not None
        elapsed = self.virtual_elapsed_s
        if self.opted_out is None and elapsed >= OPT_OUT_AT_S:
            self._opt_out_one()
        if not self._offline and elapsed >= OFFLINE_AT_S:
            self._offline = True
            self.sim.set_account_status(OFFLINE_PHONE, "disconnected")
            self.events.append(f"phone {OFFLINE_PHONE} disconnected at +{elapsed / 3600:.1f}h")
        if self._offline and not self._online and elapsed >= ONLINE_AT_S:
            self._online = True
            self.sim.set_account_status(OFFLINE_PHONE, "active")
            self.events.append(f"phone {OFFLINE_PHONE} connected again at +{elapsed / 3600:.1f}h")

    def _opt_out_one(self) -> None:
        assert self.sim is not None
        for send in accepted_sends(self.sim.requests()):
            if send.step == 0 and send.recipient != self._invalid:
                self.sim.inbound("STOP", phone=send.recipient, account_phone=send.account)
                self.opted_out = send.recipient
                self.events.append(f"lead {send.recipient} wrote STOP")
                return

    def running(self) -> int:
        """Enrollments not in an end state yet."""
        assert self.database is not None
        with self.database.engine.connect() as connection:
            return int(
                connection.execute(
                    select(func.count()).select_from(E).where(running())
                ).scalar_one()
            )

    def done(self) -> bool:
        """The story was played and every lead reached an end state."""
        return self._online and self.running() == 0

    # -- the end ---------------------------------------------------------------------------
    def report(self, *, finished: bool) -> DemoReport:
        """Judge the run from the simulator's log and webhooks (call before ``stop``)."""
        assert self.sim is not None
        assert self.database is not None
        assert self.settings is not None
        log = self.sim.requests()
        deliveries: list[dict[str, Any]] = self.sim.deliveries()
        sends = accepted_sends(log)
        invariants = check(
            sends,
            jitter_min_s=self.settings.pacing.jitter_min_s,
            speed=self.plan.speed,
            epoch=self.plan.epoch,
            quota_per_day=dict.fromkeys(PHONES, self.plan.quota_per_day),
            quota_timezone=self.settings.quota.timezone,
        )
        with self.database.engine.connect() as connection:
            rows = connection.execute(select(E.c.state, func.count()).group_by(E.c.state)).all()
            in_flight = in_flight_at_replies(connection)
        states = {str(s): int(n) for s, n in rows}
        report = build_report(invariants, sends, deliveries, states, in_flight)
        report.imported, report.rejected, report.finished = self.imported, self.rejected, finished
        report.elapsed_s = time.monotonic() - self._started
        report.virtual_days = report.elapsed_s * self.plan.speed / 86_400
        report.notes = [f"events: {'; '.join(self.events) or 'none'}"]
        return report

    def stop(self) -> None:
        """Stop every child process (idempotent) and release the database."""
        self.children.stop_all()
        if self.sim is not None:
            self.sim.close()
        if self.database is not None:
            self.database.engine.dispose()

    def now(self) -> datetime:
        return self.clock.now()
