"""``outreach dlq ...``: failed sends, shown and retried."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from cli.context import ConfigOption, console, load, open_database
from engine.errors import OutreachError
from engine.redact import mask_phone

app = typer.Typer(help="Failed sends: list them and send them again.", no_args_is_help=True)


@app.command("list")
def list_(
    config: ConfigOption = None,
    limit: Annotated[int, typer.Option(help="Show at most this many.", min=1)] = 200,
) -> None:
    """Show steps whose send failed for good, newest first."""
    from engine.deadletters import list_dead_letters

    with open_database(load(config)) as database, database.engine.begin() as connection:
        letters = list_dead_letters(connection, limit=limit)
    table = Table(title=f"{len(letters)} dead letters", title_justify="left")
    for column in ("id", "sequence", "step", "lead", "phone", "tries", "error"):
        table.add_column(column)
    for letter in letters:
        table.add_row(
            str(letter.enrollment_id),
            escape(letter.sequence),
            str(letter.step + 1),  # steps are numbered from 1 wherever a person reads them
            mask_phone(letter.lead_phone),
            letter.phone_id or "-",
            str(letter.attempts),
            escape((letter.error or "")[:80]),  # TimelinesAI's words, never markup
        )
    console().print(table)


@app.command("retry")
def retry(
    ids: Annotated[list[int] | None, typer.Argument(help="Enrollment ids to retry.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Retry every dead letter.")] = False,
    config: ConfigOption = None,
) -> None:
    """Send failed steps again (through the same pacing, quota and lease)."""
    from engine.deadletters import retry_dead_letters
    from engine.runtime import build_clock

    if not ids and not all_:
        raise OutreachError("name enrollment ids to retry, or pass --all")
    settings = load(config)
    with open_database(settings) as database, database.engine.begin() as connection:
        count = retry_dead_letters(connection, build_clock(settings).now(), None if all_ else ids)
    console().print(f"{count} step(s) due again; the dispatcher will send them")
