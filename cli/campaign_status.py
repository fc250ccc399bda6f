"""``outreach campaign status [NAME]``: each campaign's state and funnel, apart from the others.

Two campaigns of one sequence are two rows: every figure counts the enrollments of
one campaign (:func:`engine.reports.campaign_status`).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from cli.context import ConfigOption, console, load, open_database
from cli.sequences_cmd import step_label

if TYPE_CHECKING:
    from engine.db import Database
    from engine.reports import CampaignStatus, Funnel
    from engine.settings import Settings

__all__ = ["status"]


def status(
    name: Annotated[
        str | None, typer.Argument(help="One campaign's details. Default: an overview of all.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
    config: ConfigOption = None,
) -> None:
    """Show campaigns: per step waiting, queued, sent, delivered, read, replied, reply rate.

    With NAME also its selection (tag or lead file, phones, start) and its funnel per
    phone and per A/B variant. Replies are credited to the last step sent before them;
    opt-outs count as replies. --json prints the same for scripts.
    """
    from sequences import CampaignError

    settings = load(config)
    with open_database(settings) as database:
        statuses = _statuses(database, name)
    if name is not None and not statuses:
        raise CampaignError(
            f"no campaign {name!r}; start one with `outreach campaign launch {name}` "
            "(`outreach campaign status` lists them)"
        )
    if as_json:
        typer.echo(json.dumps({"campaigns": [s.as_dict() for s in statuses]}, indent=2))
        return
    out = console()
    if name is None:
        out.print(_overview(statuses))
        return
    _details(out, statuses[0], settings)


def _statuses(database: Database, name: str | None) -> list[CampaignStatus]:
    from engine.reports import campaign_status

    with database.engine.connect() as connection:
        return campaign_status(connection, name)


_COUNTS = ("waiting", "queued", "sent", "delivered", "read", "replied")


def _funnel_table(title: str, label: str, *, open_steps: bool = True) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column(label)
    for name in _COUNTS[0 if open_steps else 2 :]:
        table.add_column(name, justify="right")
    table.add_column("reply rate", justify="right")
    return table


def _funnel_cells(funnel: Funnel, *, open_steps: bool = True) -> list[str]:
    counts = [funnel.waiting, funnel.queued] if open_steps else []
    counts += [funnel.sent, funnel.delivered, funnel.read, funnel.replied]
    return [*(f"{n:,}" for n in counts), _rate(funnel)]


def _rate(funnel: Funnel) -> str:
    return "-" if funnel.reply_rate is None else f"{funnel.reply_rate:.1%}"


def _overview(statuses: list[CampaignStatus]) -> Table:
    table = Table(title=f"{len(statuses)} campaigns", title_justify="left")
    columns = (
        "campaign", "sequence", "state", "enrolled", "running", "waiting", "queued", "sent",
        "replied", "reply rate", "failed", "dead letters",
    )  # fmt: skip
    for name in columns:
        left = name in ("campaign", "sequence", "state")
        table.add_column(name, justify="left" if left else "right")
    for status in statuses:
        total = status.total
        counts = (status.enrolled, status.running, total.waiting, total.queued, total.sent)
        table.add_row(
            status.name, status.sequence, status.state, *(f"{n:,}" for n in counts),
            f"{total.replied:,}", _rate(total), f"{status.failed:,}",
            f"{status.dead_letters:,}",
        )  # fmt: skip
    return table


def _details(out: Console, status: CampaignStatus, settings: Settings) -> None:
    states = ", ".join(f"{state} {count:,}" for state, count in sorted(status.states.items()))
    out.print(
        f"[bold]{escape(status.name)}[/]: campaign {status.state} of sequence "
        f"{escape(status.sequence)}, {status.enrolled:,} enrolled ({states or 'none'})"
    )
    out.print(escape(_selection(status)))
    if status.failed or status.dead_letters:
        out.print(
            f"failed: {status.failed:,} enrollments ended failed; {status.dead_letters:,} "
            "dead letters waiting (`outreach dlq list`, `outreach dlq retry`)"
        )
    steps = _funnel_table("by step", "step")
    for index, funnel in sorted(status.steps.items()):
        steps.add_row(step_label(index), *_funnel_cells(funnel))
    steps.add_section()
    steps.add_row("all", *_funnel_cells(status.total))
    out.print(steps)
    if status.phones:
        phones = _funnel_table("by phone", "phone")
        for phone_id, funnel in _by_phone(status.phones):
            phones.add_row(phone_id, *_funnel_cells(funnel))
        out.print(phones)
    from engine.reports import ab_variants
    from sequences import compiled_sequences

    variants = ab_variants(status, compiled_sequences(settings).get(status.sequence))
    if variants:
        table = _funnel_table("A/B variants", "step, variant", open_steps=False)
        for (index, variant), funnel in variants:
            label = f"{step_label(index)}, variant {variant + 1}"
            table.add_row(label, *_funnel_cells(funnel, open_steps=False))
        out.print(table)


def _selection(status: CampaignStatus) -> str:
    """The campaign's selection in one line: leads, phones, start."""
    start = "" if status.starts_at is None else f"; starts {status.starts_at:%Y-%m-%d %H:%M} UTC"
    return f"{status.leads_words}; {status.phones_words}{start}"


def _by_phone(phones: dict[str, Any]) -> list[tuple[str, Any]]:
    """The per-phone rows in natural id order (``p2`` before ``p10``)."""
    from engine.settings import sorted_phone_ids

    return [(phone_id, phones[phone_id]) for phone_id in sorted_phone_ids(phones)]
