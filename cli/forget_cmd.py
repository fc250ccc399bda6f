"""``outreach leads forget NUMBER``: erase what is stored of a person, keep them off our list."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from cli.context import (
    ConfigOption,
    NumberArgument,
    RegionOption,
    console,
    load,
    open_database,
)

if TYPE_CHECKING:
    from sequences.forget import Erasure

__all__ = ["forget"]


def forget(
    number: NumberArgument,
    *,
    region: RegionOption = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print what was erased as JSON (needs --yes).")
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Erase a lead's personal data (GDPR) and never contact the number again.

    Erases the lead's name and variables, tags, zone, the texts of messages and
    replies to and from the number, and the number itself wherever it is stored
    (messages, webhook deliveries, the lead, the do-not-contact list). Running
    campaigns of the lead end (stopped: forgotten). Only a key made from the number
    stays on the do-not-contact list, so importing or launching the number again is
    refused as suppressed. This cannot be undone.
    """
    from engine.runtime import build_clock
    from sequences import find_number
    from sequences.forget import forget as erase
    from sequences.forget import what_forget_erases

    settings = load(config)
    if as_json and not yes:
        raise typer.BadParameter("--json prints without asking; add --yes", param_hint="--json")
    out = console()
    with open_database(settings) as database:
        with database.engine.connect() as connection:
            phone = find_number(connection, number, region or settings.leads.default_region)
            planned = what_forget_erases(connection, phone)
        if not yes:
            _print(out, planned, done=False)
            if not typer.confirm(f"Erase {phone} for good?", default=False):
                out.print("nothing erased")
                raise typer.Exit(1)
        erased = erase(database, phone, now=build_clock(settings).now())
    if as_json:
        typer.echo(json.dumps(erased.as_dict(), indent=2))
        return
    _print(out, erased, done=True)


def _print(out: Console, erasure: Erasure, *, done: bool) -> None:
    verb = "erased" if done else "would erase"
    lead = "no lead with this number" if erasure.lead_id is None else f"lead {erasure.lead_id}"
    out.print(f"{erasure.phone} ({lead}): {verb}")
    for label, count in (
        ("variables (name and the file's other columns)", erasure.name_and_variables),
        ("tags", erasure.tags),
        ("running campaigns ended", erasure.enrollments_ended),
        ("message texts and the number on messages", erasure.messages),
        ("automatic answers", erasure.auto_replies),
        ("review flags", erasure.review_flags),
        ("webhook deliveries mentioning the number", erasure.webhook_events),
    ):
        out.print(f"  {label}: {count}")
    if done:
        out.print(f"do-not-contact list: the number is now kept only as the key {erasure.key}")
    else:
        out.print("the number stays on the do-not-contact list only as a key made from it")
