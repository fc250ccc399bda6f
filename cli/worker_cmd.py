"""``outreach worker``, ``outreach dispatch``, ``outreach scheduler``: the running engine."""

from __future__ import annotations

import os
import signal
import threading
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer

from cli.context import ConfigOption, child_options, console, load, logs, open_database

if TYPE_CHECKING:
    from engine.db import Database
    from engine.dispatcher import Dispatcher
    from engine.settings import Settings


def worker(
    config: ConfigOption = None,
    processes: Annotated[
        int | None,
        typer.Option(help="Worker processes. Default: worker.processes in the config.", min=1),
    ] = None,
    threads: Annotated[
        int | None,
        typer.Option(help="Threads per process. Default: worker.threads in the config.", min=1),
    ] = None,
    phones: Annotated[
        str | None, typer.Option(help="Only these phones' queues, e.g. 01,02. Default: all.")
    ] = None,
    in_process: Annotated[
        bool, typer.Option("--in-process", hidden=True, help="Be one of the worker processes.")
    ] = False,
) -> None:
    """Send messages: consume the phones' queues until SIGTERM or Ctrl-C.

    Run as many as you like, on any hosts, against the same Redis and database.
    """
    from engine import tracing
    from engine.logs import configure_logging
    from engine.runtime import build_redis
    from engine.settings import find_config
    from engine.settings.services import require_sending
    from engine.supervisor import STOP_MARGIN_S, Supervisor, run_until_signalled
    from engine.worker import run_worker_process, select_queues, worker_specs
    from phones import sync_phones

    settings = load(config)
    # Before any child starts: a child would die of it again at every restart.
    require_sending(settings, datetime.now(UTC))
    configure_logging(logs(), settings.timelinesai.token)
    tracing.check(settings.telemetry)
    chosen = [part.strip() for part in phones.split(",") if part.strip()] if phones else None
    queues = select_queues(settings, chosen)
    threads = threads or settings.worker.threads
    if in_process:
        tracing.configure(settings.telemetry, role="worker")
        round_trips_file = os.environ.get("OUTREACH_ROUND_TRIPS_FILE")  # bench/send_pipeline.py
        run_worker_process(settings, queues, threads, round_trips_file=round_trips_file)
        return
    build_redis(settings).close()  # fail fast, in one line, when Redis is down
    with open_database(settings) as database, database.session() as session:
        sync_phones(session, settings.phones)
    processes = processes or settings.worker.processes
    console().print(f"worker: {processes} processes x {threads} threads on {len(queues)} queues")
    path = find_config(config, os.environ).resolve()
    specs = worker_specs(
        path, processes=processes, threads=threads, phones=chosen, options=child_options()
    )
    stop_timeout_s = settings.worker.send_time_limit_s + STOP_MARGIN_S
    raise typer.Exit(
        run_until_signalled(Supervisor(specs, os.environ, stop_timeout_s=stop_timeout_s))
    )


def _dispatcher(settings: Settings, database: Database) -> Dispatcher:
    from engine.broker import build_broker, declare_actors
    from engine.dispatcher import Dispatcher
    from engine.runtime import build_redis
    from engine.workspace_quota import quota_halted
    from phones import sync_phones
    from sequences import compiled_sequences

    client, namespace = build_redis(settings), settings.redis.namespace
    with database.session() as session:
        sync_phones(session, settings.phones)
    broker = build_broker(settings)
    actors = declare_actors(broker, settings, _not_here)
    return Dispatcher(
        settings, compiled_sequences(settings), database, actors.enqueue, actors.enqueue_answer,
        quota_halted=lambda: quota_halted(client, namespace),
    )  # fmt: skip


def _not_here(*_: object) -> None:
    raise RuntimeError("this process only enqueues; sends run in `outreach worker`")


def dispatch(config: ConfigOption = None) -> None:
    """Run one dispatcher pass: move due steps into the phones' queues."""
    from engine import tracing
    from engine.runtime import build_clock

    settings = load(config)
    tracing.configure(settings.telemetry, role="dispatch")
    with open_database(settings) as database:
        report = _dispatcher(settings, database).run_once(build_clock(settings).now())
    console().print(
        f"dispatched {report.first_messages} first messages and {report.followups} follow-ups; "
        f"{report.deferred_to_window} wait for their send window, "
        f"{report.requeued_lost} lost sends requeued, {report.reconciling} sent to reconciliation"
    )


def scheduler(config: ConfigOption = None) -> None:
    """Run the dispatcher and the maintenance jobs until SIGTERM or Ctrl-C.

    The dispatcher runs every scheduler.dispatch_interval_s (it also hands steps stuck
    in `sending` back to their actor for reconciliation); phone sync, delivery sync,
    pruning and the replies sweep run on their [scheduler] cron expressions (UTC, on the
    engine's clock: sped up with [clock] speed).
    """
    from engine import tracing
    from engine.dispatcher import dispatch_forever
    from engine.jobs.runner import build_maintenance_jobs, start_jobs
    from engine.logs import configure_logging
    from engine.runtime import build_clock
    from engine.settings.services import require_shared_clock, require_token

    settings = load(config)
    require_token(settings)  # the jobs call TimelinesAI
    require_shared_clock(settings, datetime.now(UTC))
    configure_logging(logs(), settings.timelinesai.token)
    tracing.configure(settings.telemetry, role="scheduler")
    with open_database(settings) as database:
        dispatcher = _dispatcher(settings, database)
        clock = build_clock(settings)
        jobs = start_jobs(build_maintenance_jobs(settings, database, clock), clock)
        interval_s = max(0.2, clock.real_seconds(settings.scheduler.dispatch_interval_s))
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        console().print(
            f"scheduler: dispatching every {interval_s:.2f} s; "
            f"jobs: {', '.join(job.id for job in jobs.get_jobs())}"
        )
        try:
            dispatch_forever(dispatcher, clock, stop, interval_s)
        finally:
            jobs.shutdown(wait=False)
