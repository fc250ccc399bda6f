"""What every command shares: the ``--config`` option, loading settings once, the console."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

if TYPE_CHECKING:
    from engine.db import Database
    from engine.logs import LogSettings
    from engine.settings import Settings

# Every command module imports this one, so it stays light: the engine is imported by
# the functions that use it, once a command runs (``outreach --help`` loads none of it).

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="Config file. Default: $OUTREACH_CONFIG, else ./config.toml.",
        show_default=False,
        dir_okay=False,
    ),
]


NumberArgument = Annotated[
    str, typer.Argument(help="The number: +40712345678, 0712 345 678, 40712345678.")
]
"""A lead's number as people write it (read with :func:`sequences.find_number`)."""
RegionOption = Annotated[
    str | None,
    typer.Option(help="Country of a national number. Default: leads.default_region."),
]
"""The country a national number is read in."""


_root_options: dict[str, str] = {}
"""The root's options (``--log-format``), as given before the command."""


def set_log_format(value: str | None) -> None:
    """Remember ``--log-format`` (``None``: not given): this process logs so, and its
    children are told so."""
    if value is None:
        _root_options.pop("--log-format", None)
    else:
        _root_options["--log-format"] = value


def logs() -> LogSettings:
    """How this process logs: ``--log-format``, else the environment's settings."""
    from engine.logs import log_settings

    return log_settings(os.environ, _root_options.get("--log-format"))


def child_options() -> tuple[str, ...]:
    """The root options a child ``outreach`` command is started with, as arguments."""
    return tuple(part for item in _root_options.items() for part in item)


def load(config: Path | None) -> Settings:
    """Find and load the settings, their templates compiled (so checked); the one place a
    command reads the environment."""
    from engine.settings import find_config, load_settings
    from sequences import check_templates

    settings = load_settings(find_config(config, os.environ), os.environ)
    check_templates(settings)
    return settings


@contextmanager
def open_database(
    settings: Settings, *, pool_size: int = 5, migrated: bool = True
) -> Iterator[Database]:
    """The database for one command: checked to be migrated (else one line saying to run
    ``outreach init``/``upgrade``), its connections closed when the block ends."""
    from engine.runtime import build_database

    database = build_database(settings, pool_size=pool_size)
    try:
        if migrated:
            database.require_current()
        yield database
    finally:
        database.dispose()


def console() -> Console:
    """A console on the current stdout (made per call so tests can capture it)."""
    return Console(highlight=False)


def error_console() -> Console:
    return Console(stderr=True, highlight=False)
