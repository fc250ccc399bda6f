"""One send through the real path, for the traces' tests: a dispatcher pass enqueues it on
real Redis, a Dramatiq worker fetches it with its phone's lease, the worker runtime sends
it through the simulator and records it in SQLite.

A plain function (no fixtures), so a fresh interpreter can run it too
(``python -m tests.sending.traced_send NAMESPACE FOLDER``, which prints the OpenTelemetry
modules loaded): that is how the tests see which modules a send loads with tracing off.
"""

from __future__ import annotations

import random
import sys
import time
from datetime import timedelta
from pathlib import Path

import dramatiq
from sqlmodel import select

from engine.broker import build_broker, declare_actors
from engine.clock import FakeClock
from engine.db import Database
from engine.dispatcher import Dispatcher
from engine.models import Enrollment, Lead, Message
from engine.sending.halt import MemoryHalt
from engine.sending.service import Sender
from engine.settings import load_settings
from engine.storage import send_store
from engine.timelinesai import MemoryRateLimiter
from engine.timelinesai.simulator import SimAccount, SimulatorConfig, running_simulator
from engine.worker import WorkerRuntime
from phones import sync_phones
from phones.lease import MemoryLease
from sequences import compiled_sequences
from tests.conftest import REDIS_URL
from tests.seed import campaign_id
from tests.sending.conftest import CONFIG, PHONES, START

LEAD = "+40712000001"


def send_through_the_worker(namespace: str, folder: Path, telemetry: str = "") -> int:
    """Enroll one lead, dispatch its first message and let a worker send it; the
    enrollment's id. ``telemetry``: a ``[telemetry]`` table to add to the config."""
    database = Database(f"sqlite:///{folder / 'outreach.db'}")
    database.upgrade()
    path = folder / "config.toml"
    path.write_text(
        f'[database]\nurl = "{database.url}"\n[redis]\nurl = "{REDIS_URL}"\n'
        f'namespace = "{namespace}"\n{telemetry}\n{CONFIG}'
    )
    settings = load_settings(path)
    with database.session() as session:
        sync_phones(session, settings.phones)
        cid = campaign_id(session, "intro", sequence="intro")
        lead = Lead(phone=LEAD, variables={"name": "Ana"})
        session.add(lead)
        session.flush()
        assert lead.id is not None
        enrollment = Enrollment(
            lead_id=lead.id, campaign_id=cid, sequence="intro", due_at=START - timedelta(minutes=1)
        )
        session.add(enrollment)
        session.flush()
        assert enrollment.id is not None
        enrollment_id = enrollment.id
    sim_config = SimulatorConfig(
        accounts=tuple(SimAccount(phone=p) for p in PHONES), seed=1, sent_events=False
    )
    broker = build_broker(settings)
    with running_simulator(sim_config) as sim:
        client = sim.client(timeout_s=5.0, retry_total_s=0.5, limiter=MemoryRateLimiter(10_000))
        clock = FakeClock(START)
        sender = Sender(
            settings=settings, sequences=compiled_sequences(settings), store=send_store(database),
            client=client, clock=clock, halt=MemoryHalt(), rng=random.Random(3),
        )  # fmt: skip
        runtime: WorkerRuntime

        def handle(queue: str, phone_id: str, enrollment_id: int, step: int, dispatch: int) -> None:
            runtime.handle(queue, phone_id, enrollment_id, step, dispatch)

        actors = declare_actors(broker, settings, handle)
        runtime = WorkerRuntime(settings, sender, actors, MemoryLease(), database=database)
        dispatcher = Dispatcher(settings, sender.sequences, database, actors.enqueue)
        assert dispatcher.run_once(clock.now()).first_messages == 1
        worker = dramatiq.Worker(broker, worker_threads=1, worker_timeout=100)
        worker.start()
        try:
            _wait_for_message(database)
        finally:
            worker.stop(timeout=5000)
            broker.close()
            sender.close()
            client.close()
    database.dispose()
    return enrollment_id


def _wait_for_message(database: Database, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        with database.session() as session:
            if session.exec(select(Message)).first() is not None:
                return
        if time.monotonic() > deadline:
            raise AssertionError("the worker sent nothing in time")
        time.sleep(0.02)


def loaded_opentelemetry() -> list[str]:
    """The OpenTelemetry modules this interpreter has loaded, and our side of the seam."""
    return sorted(
        name
        for name in sys.modules
        if name.split(".")[0] == "opentelemetry" or name == "engine.tracing.otel"
    )


if __name__ == "__main__":
    send_through_the_worker(sys.argv[1], Path(sys.argv[2]))
    print(" ".join(loaded_opentelemetry()))
