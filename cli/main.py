"""The ``outreach`` command: one Typer app, each command group in its own module.

Errors are one clear line on stderr and a non-zero exit (2 for bad configuration
or usage), never a traceback.

Start-up stays light: a command builds the app with only itself (``COMMANDS`` says
where each lives), ``outreach --help`` with every ``cli`` module, so those import only
typer, rich and the standard library at module level (names used only in
annotations under ``TYPE_CHECKING``); the engine, the database layer, dramatiq, httpx
and the web stack are imported inside the functions that use them, when a command
runs. ``tests/cli/test_startup.py`` fails when a heavy module creeps back in.
"""

from __future__ import annotations

import gc
import sys
import threading
from enum import StrEnum
from importlib import import_module
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from cli.context import error_console, set_log_format
from engine.errors import OutreachError

if TYPE_CHECKING:
    from sqlalchemy.exc import OperationalError

# Each top-level name: the ``cli`` module that holds it, the attribute there, and whether
# it is a group of commands (a Typer) or one command (a function).
COMMANDS: dict[str, tuple[str, str, bool]] = {
    "init": ("setup_cmd", "init", False),
    "db": ("setup_cmd", "db_app", True),
    "phones": ("phones_cmd", "app", True),
    "worker": ("worker_cmd", "worker", False),
    "dispatch": ("worker_cmd", "dispatch", False),
    "scheduler": ("worker_cmd", "scheduler", False),
    "serve": ("serve_cmd", "serve_command", False),
    "dlq": ("dlq_cmd", "app", True),
    "leads": ("leads_cmd", "app", True),
    "suppress": ("suppress_cmd", "app", True),
    "sequences": ("sequences_cmd", "app", True),
    "campaign": ("campaign_cmd", "app", True),
    "forecast": ("forecast_cmd", "forecast_command", False),
    "spintax": ("spintax_cmd", "app", True),
    "simulator": ("simulator_cmd", "app", True),
    "webhook": ("webhook_cmd", "app", True),
    "replies": ("replies_cmd", "app", True),
    "chats": ("chats_cmd", "app", True),
    "demo": ("demo_cmd", "demo", False),
    "status": ("status_cmd", "status", False),
    "alerts": ("alerts_cmd", "alerts", False),
    "console": ("console_cmd", "app", True),
}
ROOT_OPTIONS_WITH_VALUE = frozenset({"--log-format"})
"""The root's options that take a value (see ``_root``), for :func:`command_named`."""


def build_app(only: str | None = None) -> typer.Typer:
    """The ``outreach`` app with every command, or with only the command (or group) named
    ``only``: Typer imports, builds and reads the signature of each command registered
    (~60 ms for all of them), and running one needs only that one."""
    app = typer.Typer(
        name="outreach",
        help="Outbound WhatsApp campaigns through TimelinesAI: paced, quota-safe, stop on reply.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
    )
    app.callback()(_root)
    for name, (module, attribute, group) in COMMANDS.items():
        if only is None or name == only:
            target = getattr(import_module(f"cli.{module}"), attribute)
            if group:
                app.add_typer(target, name=name)
            else:
                app.command(name)(target)
    return app


def command_named(argv: list[str]) -> str | None:
    """The command ``argv`` runs, when that is plain: the first word after the root's
    options, if it is a known command. ``None`` (so the full app, whose help and errors
    know every command) for help, ``--version``, an unknown word or an unknown option."""
    index = 0
    while index < len(argv):
        word = argv[index]
        if word in ROOT_OPTIONS_WITH_VALUE:
            index += 2
        elif word.partition("=")[0] in ROOT_OPTIONS_WITH_VALUE:
            index += 1
        elif word.startswith("-"):
            return None
        else:
            return word if word in COMMANDS else None
    return None


class LogFormat(StrEnum):
    """``--log-format``: lines for people, or one JSON object per line for collectors."""

    text = "text"
    json = "json"


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version  # 20 ms: not for every command

        typer.echo(f"outreach {version('outreach')}")
        raise typer.Exit()


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
    args = sys.argv[1:] if argv is None else argv
    try:
        result = build_app(command_named(args))(
            args=args, prog_name="outreach", standalone_mode=False
        )
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
