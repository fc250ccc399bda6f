"""``outreach init`` and ``outreach db upgrade``: a config and a database to start from."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Annotated

import typer

from cli.context import ConfigOption, console, load, open_database
from engine.errors import OutreachError

EXAMPLE_CONFIG = Path(__file__).with_name("config.example.toml")

db_app = typer.Typer(help="Manage the database schema.", no_args_is_help=True)


def init(
    directory: Annotated[
        Path, typer.Argument(help="Folder for config.toml and the database.", file_okay=False)
    ] = Path("."),
    force: Annotated[bool, typer.Option(help="Overwrite an existing config.toml.")] = False,
) -> None:
    """Write config.toml from the documented example and create the database."""
    from engine.settings import DEFAULT_CONFIG_NAME, load_settings

    directory.mkdir(parents=True, exist_ok=True)
    target = directory / DEFAULT_CONFIG_NAME
    out = console()
    if target.exists() and not force:
        out.print(f"{target} exists; keeping it (use --force to overwrite)", markup=False)
    else:
        shutil.copyfile(EXAMPLE_CONFIG, target)
        out.print(f"wrote {target}", markup=False)
    # The file just written (not $OUTREACH_CONFIG: init sets up this folder), with the
    # environment's overrides, as every other command reads it: the database is created
    # where $OUTREACH_DATABASE_URL says, if set.
    settings = load_settings(target, os.environ)
    with open_database(settings, migrated=False) as database:
        database.upgrade()
    out.print(f"database ready at {database.safe_url}", markup=False)
    out.print(
        f"next: add your phones to {target} (see its commented [[phones]] example), "
        "then `outreach phones list`",
        markup=False,
    )


@db_app.command("upgrade")
def upgrade(config: ConfigOption = None) -> None:
    """Apply database migrations up to the latest revision."""
    settings = load(config)
    with open_database(settings, migrated=False) as database:
        before = database.current_revision()
        database.upgrade()
        after = database.current_revision()
    if after is None:
        raise OutreachError("migrations ran but the database has no revision")
    if before == after:
        console().print(f"database already at revision {after}")
    else:
        console().print(f"database upgraded from {before or 'empty'} to {after}")
