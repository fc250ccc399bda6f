"""``outreach chats ...``: a lead's conversations as TimelinesAI has them."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.context import ConfigOption, console, load, open_database
from engine.redact import mask_phone

app = typer.Typer(help="Chats with leads, from TimelinesAI.", no_args_is_help=True)


@app.command("history")
def history(
    phone: Annotated[str, typer.Argument(help="The lead's number, e.g. +40712345678.")],
    config: ConfigOption = None,
    region: Annotated[
        str | None,
        typer.Option(help="Country (e.g. RO) of a number written without +country code."),
    ] = None,
) -> None:
    """Fetch and store a lead's whole chat history (each message once, by its uid)."""
    from engine import numbers
    from engine.jobs import fetch_chat_history
    from engine.runtime import build_client, build_clock, build_redis

    settings = load(config)
    # A lookup: any possible number (an import asks for a valid one).
    number = numbers.to_e164(phone, region or settings.leads.default_region, valid=False)
    with (
        open_database(settings) as database,
        build_client(settings, build_redis(settings)) as client,
    ):
        report = fetch_chat_history(build_clock(settings).now(), client, database, settings, number)
    who = f"lead {report.lead_id}" if report.lead_id else "not a lead"
    console().print(
        f"{mask_phone(number)} ({who}): {report.chats} chat(s), {report.messages} message(s), "
        f"{report.stored} new"
    )
