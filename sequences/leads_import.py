"""``outreach leads import``: a CSV of leads into the leads table, fast and idempotent.

Rows are checked and normalised in Python (``phonenumbers`` is the slow part: each
number is parsed once), then written in batches of :data:`BATCH_SIZE` with
set-based statements (:mod:`sequences.leads_store`): one lookup of suppressed and
one of existing numbers per batch, one insert, one update, one insert of tags that
skips those already given. The whole import is one transaction: a database error
leaves the leads as they were.

Re-importing a number updates its lead instead of adding another: the file's
non-blank values replace the stored ones of the same name, other stored variables
stay, and a blank timezone keeps the stored one.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Final

from engine.db import Database
from sequences.errors import LeadImportError
from sequences.leads_csv import (
    DEFAULT_ENCODING,
    LeadFile,
    ParsedLead,
    Rejection,
    check_region,
    normalise_record,
    read_lead_file,
)
from sequences.leads_store import LeadStore, LeadValues, lead_store
from sequences.suppression import read_salt, suppressed_among

__all__ = [
    "BATCH_SIZE",
    "REJECTS_SUFFIX",
    "ImportReport",
    "Progress",
    "import_leads",
    "rejects_path_for",
]

BATCH_SIZE: Final = 2_000
"""Rows normalised and written per round trip: large enough to amortise the
statements, small enough to stay far below SQLite's bound-parameter limit."""

REJECTS_SUFFIX: Final = ".rejects.csv"

_TAG_LIMIT: Final = 64  # lead_tags.tag

Progress = Callable[[int, int], None]
"""Called with (rows done, rows in the file) before the first batch and after each."""


@dataclass(frozen=True)
class ImportReport:
    """What an import did with each data row of the file.

    Every row is counted once: ``imported + updated + duplicates + invalid +
    suppressed == rows``. ``rejects_path`` is the CSV of the invalid rows, if any;
    ``rejected`` lists them as (line in the file, reason).
    """

    rows: int
    imported: int
    updated: int
    duplicates: int
    invalid: int
    suppressed: int
    rejects_path: Path | None
    rejected: tuple[tuple[int, str], ...] = ()


def rejects_path_for(path: Path) -> Path:
    """Where the invalid rows of ``path`` go: ``leads.csv`` -> ``leads.rejects.csv``."""
    return path.with_name(path.stem + REJECTS_SUFFIX)


def import_leads(
    database: Database,
    path: Path,
    *,
    tag: str | None,
    region: str | None,
    now: datetime,
    progress: Progress | None = None,
    encoding: str = DEFAULT_ENCODING,
    phone_column: str | None = None,
    rejects: Path | None = None,
) -> ImportReport:
    """Import the CSV at ``path``: new numbers become leads, known ones are updated.

    ``region`` (an ISO country code) reads national numbers of rows without a
    country; ``tag`` is given to every imported or updated lead; ``now`` (UTC)
    stamps the rows; ``encoding`` and ``phone_column`` say how to read the file
    (:func:`~sequences.leads_csv.read_lead_file`). Raises :class:`LeadImportError`,
    having written nothing, when the file or an argument is unusable; rows with
    problems go to ``rejects`` (default: the rejects file beside ``path``).
    """
    tag = _check_tag(tag)
    region = check_region(region)
    lead_file = read_lead_file(path, encoding=encoding, phone_column=phone_column)
    rejects = rejects or rejects_path_for(lead_file.path)
    if rejects.resolve() == path.resolve():
        raise LeadImportError(f"the rejects file cannot be the file imported ({path})")
    total = len(lead_file.records)
    report = _Counts()
    rejections: list[Rejection] = []
    seen: set[str] = set()
    if progress is not None:
        progress(0, total)
    with database.engine.begin() as connection:
        store = lead_store(connection, now)
        salt = read_salt(connection)
        for start in range(0, total, BATCH_SIZE):
            batch: list[ParsedLead] = []
            for record in lead_file.records[start : start + BATCH_SIZE]:
                result = normalise_record(record, lead_file.columns, region)
                if isinstance(result, Rejection):
                    rejections.append(result)
                elif result.phone in seen:
                    report.duplicates += 1
                else:
                    seen.add(result.phone)
                    batch.append(result)
            _write_batch(store, batch, tag, report, salt)
            if progress is not None:
                progress(min(start + BATCH_SIZE, total), total)
        # Inside the transaction: if the rejects cannot be written, nothing is imported.
        rejects_path = _write_rejects(lead_file, rejections, rejects)
    return ImportReport(
        rows=total,
        imported=report.imported,
        updated=report.updated,
        duplicates=report.duplicates,
        invalid=len(rejections),
        suppressed=report.suppressed,
        rejects_path=rejects_path,
        rejected=tuple((rejection.record.line, rejection.reason) for rejection in rejections),
    )


def _check_tag(tag: str | None) -> str | None:
    if tag is None:
        return None
    tag = tag.strip()
    if not tag or len(tag) > _TAG_LIMIT:
        raise LeadImportError(f"a tag must be 1 to {_TAG_LIMIT} characters, got {tag!r}")
    return tag


@dataclass
class _Counts:
    imported: int = 0
    updated: int = 0
    duplicates: int = 0
    suppressed: int = 0


def _write_batch(
    store: LeadStore, leads: list[ParsedLead], tag: str | None, counts: _Counts, salt: str | None
) -> None:
    """Store one batch of distinct numbers and add what happened to ``counts``.

    ``salt`` finds forgotten numbers (:mod:`sequences.suppression`)."""
    if not leads:
        return
    phones = [lead.phone for lead in leads]
    suppressed = suppressed_among(phones, salt, store.suppressed)
    existing = store.existing(phones)
    new: list[LeadValues] = []
    changes: list[LeadValues] = []
    for lead in leads:
        known = existing.get(lead.phone)
        if lead.phone in suppressed:
            counts.suppressed += 1
        elif known is None:
            new.append(LeadValues(None, lead.phone, lead.variables, lead.timezone, lead.region))
        else:
            variables = {**known.variables, **lead.variables}
            zone = lead.timezone or known.timezone
            changes.append(LeadValues(known.id, lead.phone, variables, zone, lead.region))
    if new:
        store.insert(new)
    if changes:
        store.update(changes)
    if tag is not None and (new or changes):
        store.tag([lead.phone for lead in (*new, *changes)], tag)
    counts.imported += len(new)
    counts.updated += len(changes)


def _write_rejects(
    lead_file: LeadFile, rejections: Iterable[Rejection], target: Path
) -> Path | None:
    """Write the invalid rows to ``target`` with ``line`` and ``reason``; None if none.

    A rejects file left by an earlier import of the same file is removed when this one
    has none, so the file always describes the last import.
    """
    rows = [
        [
            *_fit(rejection.record.values, lead_file.columns.width),
            rejection.record.line,
            rejection.reason,
        ]
        for rejection in rejections
    ]
    try:
        if not rows:
            target.unlink(missing_ok=True)
            return None
        with target.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow([*lead_file.header, "line", "reason"])
            writer.writerows(rows)
    except OSError as error:
        raise LeadImportError(
            f"cannot write the rejects file {target}: {error.strerror}; nothing was imported"
        ) from None
    return target


def _fit(values: list[str], width: int) -> list[str]:
    """``values`` padded or cut to ``width`` fields so they line up under the header."""
    return (values + [""] * width)[:width]
