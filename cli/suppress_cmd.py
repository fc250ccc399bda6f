"""``outreach suppress ...``: the do-not-contact list, by hand or from a file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from cli.context import (
    ConfigOption,
    NumberArgument,
    RegionOption,
    console,
    load,
    open_database,
)
from cli.lead_file_options import DEFAULT_ENCODING, EncodingOption, PhoneColumnOption
from engine.errors import OutreachError

app = typer.Typer(
    help="The do-not-contact list: numbers no campaign may write to, ever.",
    no_args_is_help=True,
)

MANUAL_REASON = "manual"
"""``sequences.suppression.MANUAL_REASON``, without importing the package (a test keeps
them equal)."""
ReasonOption = Annotated[str, typer.Option(help="Why, kept with the number (64 characters).")]


@app.command("add")
def add(
    number: NumberArgument,
    *,
    reason: ReasonOption = MANUAL_REASON,
    region: RegionOption = None,
    config: ConfigOption = None,
) -> None:
    """Put a number on the list: imports and launches refuse it, its running campaigns end."""
    from engine.runtime import build_clock
    from sequences import find_number, suppression

    settings = load(config)
    now = build_clock(settings).now()
    with open_database(settings) as database, database.engine.begin() as connection:
        phone = find_number(connection, number, region or settings.leads.default_region)
        added, ended = suppression.add(
            connection, phone, reason=_reason(reason), source="outreach suppress add", now=now
        )
    state = "added to" if added else "already on"
    ending = f"; {ended} running campaign(s) of the lead ended" if ended else ""
    console().print(f"{phone}: {state} the do-not-contact list{ending}")


@app.command("remove")
def remove(
    number: NumberArgument,
    *,
    region: RegionOption = None,
    config: ConfigOption = None,
) -> None:
    """Take a number off the list (campaigns it ended stay ended)."""
    from sequences import find_number, suppression

    settings = load(config)
    with open_database(settings) as database, database.engine.begin() as connection:
        phone = find_number(connection, number, region or settings.leads.default_region)
        removed = suppression.remove(connection, phone)
    if not removed:
        raise OutreachError(f"{phone} is not on the do-not-contact list")
    forgotten = " (it had been forgotten: its lead data is gone)" if removed[0].forgotten else ""
    console().print(f"{phone}: removed from the do-not-contact list{forgotten}")


@app.command("list")
def list_(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    config: ConfigOption = None,
) -> None:
    """Every number on the list, newest first; a forgotten number shows only its key."""
    from sequences import suppression

    settings = load(config)
    with open_database(settings) as database, database.engine.connect() as connection:
        entries = suppression.entries(connection)
    if as_json:
        typer.echo(json.dumps([entry.as_dict() for entry in entries], indent=2))
        return
    table = Table(title=f"{len(entries)} numbers on the do-not-contact list", title_justify="left")
    for column in ("number", "reason", "source", "since"):
        table.add_column(column)
    for entry in entries:
        table.add_row(
            f"forgotten ({entry.phone})" if entry.forgotten else entry.phone,
            escape(entry.reason),
            escape(entry.source or "-"),
            f"{entry.created_at:%Y-%m-%d %H:%M}",
        )
    console().print(table)


@app.command("import")
def import_(
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV with a column of numbers, read like `leads import` reads it.",
            exists=True,
            dir_okay=False,
            readable=True,
        ),
    ],
    *,
    reason: ReasonOption = MANUAL_REASON,
    region: RegionOption = None,
    encoding: EncodingOption = DEFAULT_ENCODING,
    phone_column: PhoneColumnOption = None,
    config: ConfigOption = None,
) -> None:
    """Put every number of a CSV on the list (all or none: a bad file adds nothing).

    The numbers' column, a country column and the encoding are read as `outreach leads
    import` reads them; rows whose number is not valid are printed with their line
    and reason, and the exit status is 1 when there are any.
    """
    from engine.runtime import build_clock
    from sequences import check_region, suppression
    from sequences.leads_csv import Rejection, normalise_record, read_lead_file

    settings = load(config)
    now = build_clock(settings).now()
    region = check_region(region or settings.leads.default_region)
    lead_file = read_lead_file(file, encoding=encoding, phone_column=phone_column)
    phones: dict[str, None] = {}
    rejected: list[Rejection] = []
    for record in lead_file.records:
        parsed = normalise_record(record, lead_file.columns, region)
        if isinstance(parsed, Rejection):
            rejected.append(parsed)
        else:
            phones.setdefault(parsed.phone)
    added = ended = 0
    with open_database(settings) as database, database.engine.begin() as connection:
        for phone in phones:
            was_added, stopped = suppression.add(
                connection, phone, reason=_reason(reason), source=f"import {file.name}", now=now
            )
            added += was_added
            ended += stopped
    out = console()
    out.print(
        f"{file.name}: {added} added, {len(phones) - added} already on the list, "
        f"{len(rejected)} invalid; {ended} running campaign(s) ended"
    )
    for rejection in rejected:
        out.print(f"line {rejection.record.line}: {escape(rejection.reason)}")
    if rejected:
        raise typer.Exit(1)


def _reason(reason: str) -> str:
    from sequences import SequencesError, suppression

    try:
        return suppression.check_reason(reason)
    except SequencesError as error:
        raise typer.BadParameter(str(error), param_hint="--reason") from None
