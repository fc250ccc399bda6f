"""Results out: one row per lead and campaign, as CSV or JSON (``outreach campaign export``,
``outreach leads export``).

:mod:`~engine.exports.rows` builds a row from plain data (pure),
:mod:`~engine.exports.query` reads the data a page at a time, and
:mod:`~engine.exports.writers` writes rows to a stream as they come.
"""

from __future__ import annotations

from engine.errors import OutreachError
from engine.exports.query import (
    campaign_rows,
    campaign_sequence,
    count_campaign_rows,
    count_lead_rows,
    leads_rows,
    of_campaign,
    steps_recorded,
)
from engine.exports.rows import ExportRow, csv_header, json_object
from engine.exports.writers import write_csv, write_json

__all__ = [
    "ExportError",
    "ExportRow",
    "campaign_rows",
    "campaign_sequence",
    "count_campaign_rows",
    "count_lead_rows",
    "csv_header",
    "json_object",
    "leads_rows",
    "of_campaign",
    "steps_recorded",
    "write_csv",
    "write_json",
]


class ExportError(OutreachError):
    """Raised when an export cannot be made: an unknown campaign, an output it cannot write."""
