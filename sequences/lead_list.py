"""The numbers of a lead file given to ``campaign launch --leads FILE``, read like an import.

The file is read and checked by :func:`~sequences.leads_csv.read_lead_file` and each
number normalised by :func:`~sequences.leads_csv.normalise_record`, exactly as
``outreach leads import`` does, so a file that imported fine selects the same leads.
Other columns are ignored: a launch enrolls stored leads, it does not update them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sequences.leads_csv import (
    DEFAULT_ENCODING,
    Rejection,
    check_region,
    normalise_record,
    read_lead_file,
)

__all__ = ["LeadList", "read_lead_list"]


@dataclass(frozen=True)
class LeadList:
    """The numbers of a lead file (``--leads FILE``), normalised as an import does."""

    path: Path
    phones: tuple[str, ...]
    """Distinct numbers in E.164, in file order."""
    invalid_rows: int


def read_lead_list(
    path: Path,
    region: str | None,
    *,
    encoding: str = DEFAULT_ENCODING,
    phone_column: str | None = None,
) -> LeadList:
    """Read the numbers' column of a CSV, found and read as an import finds and reads it.

    National numbers are read in the row's country, else in ``region``. Raises
    :class:`~sequences.errors.LeadImportError` when the file is unusable; rows whose
    number is not valid are only counted.
    """
    lead_file = read_lead_file(path, encoding=encoding, phone_column=phone_column)
    region = check_region(region)
    phones: dict[str, None] = {}
    invalid = 0
    for record in lead_file.records:
        parsed = normalise_record(record, lead_file.columns, region)
        if isinstance(parsed, Rejection):
            invalid += 1
        else:
            phones.setdefault(parsed.phone)
    return LeadList(path, tuple(phones), invalid)
