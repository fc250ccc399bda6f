"""The ``outreach`` command: one Typer app, each command group in its own module.

Errors are one clear line on stderr and a non-zero exit (2 for bad configuration
or usage), never a traceback.

Start-up stays light: ``outreach --help`` imports every ``cli`` module, so those
import only typer, rich and the standard library at module level (names used only in
annotations under ``TYPE_CHECKING``); the engine, the database layer, dramatiq, httpx
and the web stack are imported inside the functions that use them, when a command
runs. ``tests/cli/test_startup.py`` fails when a heavy module creeps back in.
"""

from __future__ import annotations

import gc
import sys
import threading
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from cli import (
    alerts_cmd,
    campaign_cmd,
    chats_cmd,
    demo_cmd,
    dlq_cmd,
    forecast_cmd,
    leads_cmd,
    phones_cmd,
    replies_cmd,
    sequences_cmd,
    serve_cmd,
    setup_cmd,
    simulator_cmd,
    spintax_cmd,
    status_cmd,
    suppress_cmd,
    webhook_cmd,
    worker_cmd,
)
from cli.context import error_console, set_log_format
from engine.errors import OutreachError

if TYPE_CHECKING:
    from sqlalchemy.exc import OperationalError

app = typer.Typer(
    name="outreach",
    help="Outbound WhatsApp campaigns through TimelinesAI: paced, quota-safe, stop on reply.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command("init")(setup_cmd.init)
app.add_typer(setup_cmd.db_app, name="db")
app.add_typer(phones_cmd.app, name="phones")
app.command("worker")(worker_cmd.worker)
app.command("dispatch")(worker_cmd.dispatch)
app.command("scheduler")(worker_cmd.scheduler)
app.command("serve")(serve_cmd.serve_command)
app.add_typer(dlq_cmd.app, name="dlq")
app.add_typer(leads_cmd.app, name="leads")
app.add_typer(suppress_cmd.app, name="suppress")
app.add_typer(sequences_cmd.app, name="sequences")
app.add_typer(campaign_cmd.app, name="campaign")
app.command("forecast")(forecast_cmd.forecast_command)
app.add_typer(spintax_cmd.app, name="spintax")
app.add_typer(simulator_cmd.app, name="simulator")
app.add_typer(webhook_cmd.app, name="webhook")
app.add_typer(replies_cmd.app, name="replies")
app.add_typer(chats_cmd.app, name="chats")
app.command("demo")(demo_cmd.demo)
app.command("status")(status_cmd.status)
app.command("alerts")(alerts_cmd.alerts)


class LogFormat(StrEnum):
    """``--log-format``: lines for people, or one JSON object per line for collectors."""

    text = "text"
    json = "json"


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version  # 20 ms: not for every command

        typer.echo(f"outreach {version('outreach')}")
        raise typer.Exit()


@app.callback()
def _root(
    show_version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
    log_format: Annotated[
        LogFormat | None,
        typer.Option(
            "--log-format",
            help="Log lines: text, or json for production. Default: $OUTREACH_LOG_FORMAT, "
            "else text.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Outbound WhatsApp campaigns through TimelinesAI: paced, quota-safe, stop on reply."""
    # Services pass it on to their child processes as an argument (child_options).
    set_log_format(log_format.value if log_format is not None else None)


def run(argv: list[str] | None = None) -> int:
    """Run the CLI with ``argv`` and return the exit status instead of exiting."""
    try:
        result = app(args=argv, prog_name="outreach", standalone_mode=False)
    except typer.Exit as done:
        return int(getattr(done, "exit_code", 0))
    except typer.Abort:
        error_console().print("aborted")
        return 130
    except typer.TyperException as error:  # usage errors: bad option, unknown command
        show = getattr(error, "show", None)
        if callable(show):
            show()
        else:
            error_console().print(f"[red]error:[/] {escape(str(error))}")
        return int(getattr(error, "exit_code", 2))
    except OutreachError as error:
        # The message is text, never markup: "[sequences.NAME]" in a hint must show.
        error_console().print(f"[red]error:[/] {escape(str(error))}", soft_wrap=True)
        return error.exit_code
    except _database_outage() as error:
        error_console().print(
            f"[red]error:[/] database unreachable: {escape(str(error.orig))}", soft_wrap=True
        )
        return 1
    return result if isinstance(result, int) else 0


def _database_outage() -> type[OperationalError]:
    """SQLAlchemy's ``OperationalError``, imported only once an error is being matched."""
    from sqlalchemy.exc import OperationalError

    return OperationalError


COLLECTOR_PAUSE_S = 2.0
"""How long a new ``outreach`` process runs without Python's cyclic garbage collector."""


def main() -> None:
    """Console-script entry point."""
    # A command's start-up makes ~100k objects that live as long as the process (modules,
    # classes, the command tree, the models), and the collector's passes over them cost
    # ~45 ms of a half-second command while freeing next to nothing. So it is off while a
    # command starts, and back for any command still running after COLLECTOR_PAUSE_S (a
    # worker, the webhook, ``status --watch``), whichever function the command runs.
    gc.disable()
    resume = threading.Timer(COLLECTOR_PAUSE_S, gc.enable)
    resume.daemon = True
    resume.start()
    code = run()
    # At exit Python collects every object once more, the imports' included: ~0.15 s after
    # a command that loaded SQLAlchemy and the models, for memory the process is about to
    # hand back anyway. Frozen objects are left alone (atexit handlers still run; the
    # commands close their files and connections themselves).
    gc.freeze()
    sys.exit(code)
