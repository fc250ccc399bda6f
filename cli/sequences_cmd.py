"""``outreach sequences ...``: the configured sequences, their steps, a preview for real leads."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from cli.context import ConfigOption, console, load, open_database

if TYPE_CHECKING:
    from sequences import SendWindow

app = typer.Typer(
    help="See the configured sequences and preview them for real leads.", no_args_is_help=True
)


def step_label(index: int) -> str:
    """Steps are numbered from 1 wherever a person reads them."""
    return f"step {index + 1}"


@app.command("list")
def list_sequences(config: ConfigOption = None) -> None:
    """Show each sequence: its steps, A/B variants, zone and send window."""
    from sequences import compiled_sequences

    settings = load(config)
    defined = compiled_sequences(settings)
    table = Table(title=f"{len(defined)} sequences", title_justify="left")
    for name in ("name", "steps", "A/B variants", "timezone", "send window", "stop on reply"):
        table.add_column(name, justify="right" if name in ("steps", "A/B variants") else "left")
    for name, sequence in sorted(defined.items()):
        table.add_row(
            name,
            str(len(sequence.steps)),
            str(sum(len(step.templates) for step in sequence.steps)),
            sequence.timezone,
            describe_window(sequence.window),
            "yes" if sequence.stop_on_reply else "no",
        )
    console().print(table)


@app.command("show")
def show(
    name: Annotated[str, typer.Argument(help="The sequence, as named in the config.")],
    config: ConfigOption = None,
) -> None:
    """Show a sequence's steps: delays, A/B variants, templates and how many wordings each has."""
    from sequences import find_sequence

    sequence = find_sequence(load(config), name)
    out = console()
    required = ", ".join(sorted(sequence.required_variables)) or "none"
    out.print(
        f"[bold]{escape(name)}[/]: {len(sequence.steps)} steps, timezone {sequence.timezone}, "
        f"send window {describe_window(sequence.window)}, "
        f"stops on reply: {'yes' if sequence.stop_on_reply else 'no'}"
    )
    out.print(f"required variables (a launch refuses leads without them): {escape(required)}")
    table = Table(show_lines=True)
    for column in ("step", "after", "variant", "wordings", "template"):
        table.add_column(column, justify="right" if column == "wordings" else "left")
    for step in sequence.steps:
        after = describe_delay(step.after_s)
        if step.index == 0:
            after = "at enrollment" if step.after_s == 0 else f"{after} after enrollment"
        for variant, (template, source) in enumerate(
            zip(step.templates, step.sources, strict=True)
        ):
            label = f"{variant + 1} of {len(step.templates)}" if len(step.templates) > 1 else "-"
            media = f"\n[dim]media: {escape(step.media_url)}[/]" if step.media_url else ""
            table.add_row(
                step_label(step.index) if variant == 0 else "",
                after if variant == 0 else "",
                label,
                f"{template.count_variants():,}",
                escape(source) + media,
            )
    out.print(table)


@app.command("preview")
def preview(
    name: Annotated[str, typer.Argument(help="The sequence, as named in the config.")],
    lead: Annotated[
        str | None, typer.Option(help="The lead's number (as imported, or national with --region).")
    ] = None,
    sample: Annotated[
        int | None,
        typer.Option(min=1, help="Preview this many leads at random, enrolled ones first."),
    ] = None,
    region: Annotated[
        str | None,
        typer.Option(help="Country (ISO code) of a --lead number written without +country."),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Render every step for real leads, exactly as they would be sent; nothing is sent.

    A lead enrolled in the sequence gets its own A/B variants and spintax seed
    ('<enrollment id>:<step index>'); a lead not enrolled is shown with enrollment 0.
    """
    from sequences import (
        SequencesError,
        find_sequence,
        normalise_number,
        preview_leads,
        render_steps,
    )

    if lead is not None and sample is not None:
        raise typer.BadParameter("give --lead or --sample, not both")
    settings = load(config)
    sequence = find_sequence(settings, name)
    phone = None
    if lead is not None:
        phone = normalise_number(lead, region or settings.leads.default_region)
    with open_database(settings) as database, database.engine.connect() as connection:
        leads = preview_leads(connection, name, phone=phone, sample=sample or 1)
    if not leads:
        raise SequencesError(
            f"no lead {phone}; import it first with `outreach leads import FILE`"
            if phone is not None
            else "there are no leads yet; import some with `outreach leads import FILE`"
        )
    out = console()
    for found in leads:
        enrolled = (
            f"enrollment {found.enrollment_id}"
            if found.enrollment_id is not None
            else "not enrolled: seeded as enrollment 0"
        )
        out.rule(f"{found.phone} ({enrolled})", align="left")
        for step in render_steps(sequence, found.variables, found.seed_id):
            variant = (
                f", variant {step.variant + 1} of {step.variants}" if step.variants > 1 else ""
            )
            out.print(f"[dim]{step_label(step.step)}{variant}, seed {step.seed}[/]")
            if step.text is None:
                missing = ", ".join(repr(name) for name in step.missing)
                out.print(f"[red]missing {missing}[/]: a launch refuses this lead")
            else:
                out.print(escape(step.text), soft_wrap=True)
                if step.too_long:
                    out.print(
                        f"[red]{len(step.text)} characters: over the 2000 TimelinesAI takes[/]"
                    )


def describe_window(window: SendWindow | None) -> str:
    """``mon-fri 09:00-18:00``, or ``any time``."""
    from sequences.syntax import WEEKDAYS

    if window is None:
        return "any time"
    days = ",".join(WEEKDAYS[day] for day in sorted(window.days))
    if window.days == frozenset(range(7)):
        days = "daily"
    elif window.days == frozenset(range(5)):
        days = "mon-fri"
    end = "24:00" if window.end is None else window.end.strftime("%H:%M")
    return f"{days} {window.start.strftime('%H:%M')}-{end}"


def describe_delay(seconds: float) -> str:
    """A delay in the config's own units: ``2d``, ``36h``, ``15m``, ``90s``."""
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"
