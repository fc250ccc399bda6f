"""``outreach campaign export`` and ``outreach leads export``: results out, as CSV or JSON.

Rows stream from the database to the output a page at a time (:mod:`engine.exports`);
a file is written beside its name (``FILE.part``) and renamed when complete, so a
failed export never leaves half a file under the name asked for.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Final, TextIO

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)

from cli.context import ConfigOption, error_console, load, open_database

if TYPE_CHECKING:
    from engine.exports import ExportRow
    from engine.settings import Settings

__all__ = ["ExportFormat", "campaign_export", "leads_export", "shows_progress"]

PROGRESS_MIN_ROWS: Final = 5_000
"""Exports with more rows than this show a progress bar on stderr (when it is a terminal)."""


class ExportFormat(StrEnum):
    """``--format``: CSV (a column per step's field) or JSON (an array of objects)."""

    csv = "csv"
    json = "json"


FormatOption = Annotated[
    ExportFormat,
    typer.Option("--format", "-f", help="csv: a column per step's field; json: an array."),
]
OutputOption = Annotated[
    Path | None,
    typer.Option(
        "--output", "-o", help="Write to this file instead of stdout.", dir_okay=False,
        show_default=False,
    ),
]  # fmt: skip
ExcelOption = Annotated[
    bool,
    typer.Option(
        "--excel",
        help="CSV for Excel: a UTF-8 byte order mark (accents and non-Latin names show "
        "right), numbers that keep their +, and names and replies starting with = + - @ "
        "prefixed with ' so they never run as formulas.",
    ),
]


def campaign_export(
    name: Annotated[str, typer.Argument(help="The campaign, by name.")],
    fmt: FormatOption = ExportFormat.csv,
    output: OutputOption = None,
    excel: ExcelOption = False,
    config: ConfigOption = None,
) -> None:
    """Export campaign NAME's results: one row per lead in it.

    Each row: the number, name and variables, the phone used, the state and end
    reason, when each step was sent, delivered and read and which A/B variant went, and
    the lead's last reply with its class and intents. Times are UTC (ISO 8601).
    """
    from engine.exports import (
        ExportError,
        campaign_rows,
        campaign_sequence,
        count_campaign_rows,
        steps_recorded,
    )

    _check(fmt, excel)
    settings = load(config)
    with open_database(settings) as database, database.engine.connect() as connection:
        sequence = campaign_sequence(connection, name)
        if sequence is None:
            raise ExportError(f"no campaign {name!r}; `outreach campaign status` lists them")
        steps = max(_configured_steps(settings, sequence), steps_recorded(connection, name))
        rows = campaign_rows(connection, name)
        total = count_campaign_rows(connection, name)
        _export(rows, total, steps=steps, fmt=fmt, output=output, excel=excel)


def leads_export(
    fmt: FormatOption = ExportFormat.csv,
    output: OutputOption = None,
    tag: Annotated[str | None, typer.Option(help="Only leads with this tag.")] = None,
    excel: ExcelOption = False,
    config: ConfigOption = None,
) -> None:
    """Export every lead with its results: one row per lead and campaign.

    A lead never enrolled is one row with empty campaign columns. The columns are
    those of `outreach campaign export`, with as many steps as the longest sequence.
    """
    from engine.exports import count_lead_rows, leads_rows, steps_recorded

    _check(fmt, excel)
    settings = load(config)
    with open_database(settings) as database, database.engine.connect() as connection:
        steps = max(_configured_steps(settings, None), steps_recorded(connection))
        rows = leads_rows(connection, tag)
        total = count_lead_rows(connection, tag)
        _export(rows, total, steps=steps, fmt=fmt, output=output, excel=excel)


def _check(fmt: ExportFormat, excel: bool) -> None:
    if excel and fmt is not ExportFormat.csv:
        raise typer.BadParameter("--excel applies to --format csv only")


def _configured_steps(settings: Settings, name: str | None) -> int:
    """The steps of sequence ``name`` in the config (of the longest one, for ``None``)."""
    if name is not None:
        configured = settings.sequences.get(name)
        return len(configured.steps) if configured else 0
    return max((len(s.steps) for s in settings.sequences.values()), default=0)


def _export(
    rows: Iterable[ExportRow],
    total: int,
    *,
    steps: int,
    fmt: ExportFormat,
    output: Path | None,
    excel: bool,
) -> None:
    from engine.exports import write_csv, write_json

    show = shows_progress(
        total, stderr_tty=sys.stderr.isatty(), stdout_tty=sys.stdout.isatty(), to_file=bool(output)
    )
    with _destination(output) as out, _progress(total, show) as counted:
        if fmt is ExportFormat.csv:
            written = write_csv(counted(rows), out, steps, excel=excel)
        else:
            written = write_json(counted(rows), out)
    if output is not None:
        error_console().print(f"{written:,} rows written to {output}")


def shows_progress(total: int, *, stderr_tty: bool, stdout_tty: bool, to_file: bool) -> bool:
    """Whether an export of ``total`` rows shows a bar: a long one, on a terminal's
    stderr, unless the rows themselves go to that terminal (the bar would garble them)."""
    return total > PROGRESS_MIN_ROWS and stderr_tty and (to_file or not stdout_tty)


@contextmanager
def _destination(output: Path | None) -> Iterator[TextIO]:
    """stdout, or ``output`` written as ``output.part`` and renamed once complete."""
    if output is None:
        yield sys.stdout
        sys.stdout.flush()
        return
    from engine.exports import ExportError

    partial = output.with_name(output.name + ".part")
    try:
        handle = partial.open("w", encoding="utf-8", newline="")
    except OSError as error:
        raise ExportError(f"cannot write {output}: {error.strerror or error}") from error
    try:
        with handle:
            yield handle
        os.replace(partial, output)
    finally:
        partial.unlink(missing_ok=True)


@contextmanager
def _progress(total: int, show: bool) -> Iterator[_Counter]:
    if not show:
        yield _Counter(None)
        return
    bar = Progress(
        TextColumn("exporting"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
        console=error_console(), transient=True,
    )  # fmt: skip
    with bar:
        yield _Counter(bar, bar.add_task("export", total=total))


class _Counter:
    """Passes rows through, advancing the bar (if any) by one each."""

    def __init__(self, bar: Progress | None, task: TaskID | None = None) -> None:
        self._bar = bar
        self._task = task

    def __call__(self, rows: Iterable[ExportRow]) -> Iterator[ExportRow]:
        for row in rows:
            yield row
            if self._bar is not None and self._task is not None:
                self._bar.advance(self._task)
