"""``outreach webhook ...``: run the receiver, subscribe it at TimelinesAI, list subscriptions."""

from __future__ import annotations

import os
import socket
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from cli.context import ConfigOption, child_options, console, load, logs, open_database
from engine.errors import ConfigError

if TYPE_CHECKING:
    from fastapi import FastAPI

    from engine.settings import Settings

app = typer.Typer(
    help="Receive TimelinesAI webhooks: replies, sends, account states.", no_args_is_help=True
)

_UNSET_MESSAGE = (
    "OUTREACH_WEBHOOK_SECRET is not set; export a long random secret, "
    "e.g. `export OUTREACH_WEBHOOK_SECRET=$(openssl rand -hex 32)`"
)
# Database connections per receiver process: the request threads share them.
POOL_SIZE = 10
# Where prometheus_client's multi-process mode keeps each process's metrics (it reads
# only this environment variable, so a receiver process is given it in its environment).
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
GRACEFUL_SHUTDOWN_S = 5  # as engine.webhook.serving's; imported lazily there


def _secret(settings: Settings) -> str:
    if not settings.webhook.secret:
        raise ConfigError(_UNSET_MESSAGE)
    return settings.webhook.secret


@app.command("serve")
def serve(
    config: ConfigOption = None,
    host: Annotated[str | None, typer.Option(help="Bind address. Default: webhook.host.")] = None,
    port: Annotated[int | None, typer.Option(help="Port. Default: webhook.port.")] = None,
    workers: Annotated[
        int | None, typer.Option(help="Processes. Default: webhook.workers.", min=1)
    ] = None,
    fd: Annotated[
        int | None, typer.Option(hidden=True, help="Be one receiver process, on this socket.")
    ] = None,
) -> None:
    """Serve POST /webhooks/timelinesai, GET /healthz and GET /metrics until Ctrl-C."""
    from engine import tracing
    from engine.logs import configure_logging
    from engine.runtime import build_redis
    from engine.settings.services import require_shared_clock
    from phones import sync_phones

    settings = load(config)
    _secret(settings)
    require_shared_clock(settings, datetime.now(UTC))
    configure_logging(logs(), settings.timelinesai.token)
    tracing.check(settings.telemetry)
    from engine.webhook import WEBHOOK_PATH  # FastAPI and uvicorn: only when serving
    from engine.webhook.serving import bind_listener, serve_app

    if fd is not None:  # one of several receivers; the metrics' folder is in its environment
        serve_app(_receiver(settings, os.environ.get(MULTIPROC_ENV)), socket.socket(fileno=fd))
        return
    build_redis(settings).close()  # fail fast, in one line, when Redis is down
    with open_database(settings) as database, database.session() as session:
        sync_phones(session, settings.phones)
    processes = workers or settings.webhook.workers
    bind_host, bind_port = host or settings.webhook.host, port or settings.webhook.port
    listener = bind_listener(bind_host, bind_port)
    console().print(
        f"webhook: http://{bind_host}:{bind_port}{WEBHOOK_PATH} ({processes} process(es))"
    )
    with listener:
        if processes == 1:
            serve_app(_receiver(settings, None), listener)
            return
        raise typer.Exit(_serve_processes(settings, config, listener, processes))


def _serve_processes(
    settings: Settings, config: Path | None, listener: socket.socket, processes: int
) -> int:
    """Several receivers on one socket, each an ``outreach webhook serve --fd`` process;
    their metrics add up through files in one folder."""
    from engine.settings import find_config
    from engine.supervisor import (
        STOP_MARGIN_S,
        ChildSpec,
        Supervisor,
        cli_command,
        run_until_signalled,
    )

    path = find_config(config, os.environ).resolve()
    fd = listener.fileno()
    with tempfile.TemporaryDirectory(prefix="outreach-metrics-") as folder:
        command = cli_command(path, "webhook", "serve", "--fd", str(fd), options=child_options())
        specs = [
            ChildSpec(f"receiver-{n + 1}", command, env={MULTIPROC_ENV: folder}, pass_fds=(fd,))
            for n in range(processes)
        ]
        stop_timeout_s = GRACEFUL_SHUTDOWN_S + STOP_MARGIN_S
        return run_until_signalled(Supervisor(specs, os.environ, stop_timeout_s=stop_timeout_s))


def _receiver(settings: Settings, multiprocess_dir: str | None) -> FastAPI:
    """The receiver of one process."""
    from engine import tracing
    from engine.broker import build_broker
    from engine.replies.actors import declare_reply_actors
    from engine.runtime import build_clock, build_database
    from engine.webhook import create_app
    from engine.webhook.outbox import Outbox
    from engine.webhook.serving import receiver_redis

    tracing.configure(settings.telemetry, role="webhook")
    database = build_database(settings, pool_size=POOL_SIZE)
    redis_client = receiver_redis(settings.redis.url)
    actors = declare_reply_actors(build_broker(settings, client=redis_client), settings, None)
    outbox = Outbox(actors.enqueue)  # no answer waits for Redis
    return create_app(
        database,
        redis_client,
        settings,
        outbox.put,
        clock=build_clock(settings),
        multiprocess_dir=multiprocess_dir,
        on_shutdown=outbox.close,
    )


@app.command("register")
def register_command(
    url: Annotated[
        str, typer.Option(help="Public URL of the receiver: https://HOST/webhooks/timelinesai.")
    ],
    config: ConfigOption = None,
) -> None:
    """Subscribe the receiver to every event type the engine uses (safe to run again)."""
    from engine.runtime import build_client, build_redis
    from engine.webhook.subscriptions import hide_secret, receiver_url, register

    settings = load(config)
    full_url = receiver_url(url, _secret(settings))
    client = build_client(settings, build_redis(settings))
    with client:
        result = register(client, full_url)
    for verb, hooks in (
        ("created", result.created),
        ("updated", result.updated),
        ("unchanged", result.unchanged),
    ):
        for hook in hooks:
            console().print(f"{verb:9} {hook.event_type} -> {hide_secret(hook.url)}")
    if not url.startswith("https://"):
        console().print("note: TimelinesAI delivers to HTTPS URLs in production")
    console().print(
        f"{len(result.created)} created, {len(result.updated)} updated, "
        f"{len(result.unchanged)} already in place"
    )


@app.command("list")
def list_command(config: ConfigOption = None) -> None:
    """Show the workspace's webhook subscriptions (secrets hidden)."""
    from engine.runtime import build_client, build_redis
    from engine.webhook.subscriptions import hide_secret

    settings = load(config)
    client = build_client(settings, build_redis(settings))
    with client:
        hooks = client.list_webhooks()
    table = Table(title=f"{len(hooks)} webhook subscriptions", title_justify="left")
    for column in ("id", "event type", "url", "enabled", "errors"):
        table.add_column(column)
    for hook in hooks:
        table.add_row(
            str(hook.id),
            hook.event_type,
            hide_secret(hook.url),
            "yes" if hook.enabled else "no",
            str(hook.errors_counter or 0),
        )
    console().print(table)
