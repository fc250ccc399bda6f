"""What every command shares: the ``--config`` option, loading settings once, the console."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from engine.settings import Settings, find_config, load_settings

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


def load(config: Path | None) -> Settings:
    """Find and load the settings; the one place a command reads the environment."""
    return load_settings(find_config(config, os.environ), os.environ)


def console() -> Console:
    """A console on the current stdout (made per call so tests can capture it)."""
    return Console(highlight=False)


def error_console() -> Console:
    return Console(stderr=True, highlight=False)
