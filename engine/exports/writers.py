"""Writing export rows to a text stream, one row at a time: CSV or a JSON array."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from typing import TextIO

from engine.exports.rows import ExportRow, csv_cells, csv_header, json_object

__all__ = ["BOM", "write_csv", "write_json"]

BOM = "\ufeff"
"""The UTF-8 byte order mark, by which Excel knows a CSV file is UTF-8."""


def write_csv(
    rows: Iterable[ExportRow], out: TextIO, step_count: int, *, excel: bool = False
) -> int:
    """Write the header and ``rows`` (``step_count`` steps each) as CSV; with ``excel``,
    a byte order mark first and text made safe to open; the number of rows written.

    Lines end in CRLF (RFC 4180, what Excel writes); open a file with ``newline=""``.
    """
    if excel:
        out.write(BOM)
    writer = csv.writer(out)
    writer.writerow(csv_header(step_count))
    written = 0
    for row in rows:
        writer.writerow(csv_cells(row, step_count, excel=excel))
        written += 1
    return written


def write_json(rows: Iterable[ExportRow], out: TextIO) -> int:
    """Write ``rows`` as one JSON array, an object per line; the number of rows written."""
    out.write("[")
    written = 0
    for row in rows:
        out.write(",\n" if written else "\n")
        out.write(json.dumps(json_object(row), ensure_ascii=False))
        written += 1
    out.write("\n]\n" if written else "]\n")
    return written
