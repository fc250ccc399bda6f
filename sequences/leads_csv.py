"""Reading a lead file: its columns, its rows, and each row checked and normalised.

The whole file is read and its structure checked (UTF-8, a header with a ``phone``
column, at least one row) before anything is written, so a bad file changes
nothing. Row-level problems (a number that is not valid, an unknown timezone) only
reject that row.
"""

from __future__ import annotations

import csv
import functools
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import phonenumbers

from engine import numbers
from sequences.errors import LeadImportError
from sequences.syntax import is_timezone

__all__ = [
    "PHONE_COLUMN",
    "TIMEZONE_COLUMN",
    "LeadColumns",
    "LeadFile",
    "ParsedLead",
    "Record",
    "Rejection",
    "check_region",
    "normalise_record",
    "read_lead_file",
    "variable_name",
]

PHONE_COLUMN: Final = "phone"
"""The column holding each lead's number (header matched ignoring case and spaces)."""

TIMEZONE_COLUMN: Final = "timezone"
"""The optional column with each lead's IANA zone; not a template variable."""

_NOT_NAME_CHARS: Final = re.compile(r"[^\w.]+")
_DELIMITERS: Final = (",", ";", "\t")
_NON_GEOGRAPHIC: Final = "001"  # phonenumbers' region of +800, +882 and the like
_E164: Final = phonenumbers.PhoneNumberFormat.E164


def variable_name(header: str) -> str:
    """The template variable a column header becomes: ``"First Name "`` -> ``first_name``.

    Lowercased, every run of characters other than letters, digits, ``_`` and ``.``
    replaced by ``_``, and ``_`` or ``.`` trimmed from the ends, so it can be written
    as ``{{first_name}}``.
    """
    return _NOT_NAME_CHARS.sub("_", header.strip().lower()).strip("_.")


@dataclass(frozen=True)
class LeadColumns:
    """Where the phone, the timezone and each variable sit in a row (0-based indexes).

    ``width`` is the number of fields in the header.
    """

    width: int
    phone: int
    timezone: int | None
    variables: tuple[tuple[int, str], ...]

    @classmethod
    def from_header(cls, header: Sequence[str], source: str) -> LeadColumns:
        """Map a header row; raises :class:`LeadImportError` when it cannot be used."""
        names: dict[str, int] = {}
        for index, title in enumerate(header):
            if not title.strip():
                continue  # spreadsheet exports often end rows with empty columns
            name = variable_name(title)
            if not name:
                raise LeadImportError(
                    f"{source}: column {title!r} has no letter or digit to name a variable; "
                    "rename it"
                )
            if name in names:
                raise LeadImportError(
                    f"{source}: columns {header[names[name]]!r} and {title!r} would both be "
                    f"the variable {name!r}; rename one"
                )
            names[name] = index
        if PHONE_COLUMN not in names:
            found = ", ".join(repr(title) for title in header if title.strip()) or "none"
            raise LeadImportError(
                f"{source} has no {PHONE_COLUMN!r} column (columns: {found}); "
                "name the column holding the numbers 'phone'"
            )
        timezone = names.pop(TIMEZONE_COLUMN, None)
        phone = names.pop(PHONE_COLUMN)
        variables = tuple((index, name) for name, index in names.items())
        return cls(len(header), phone, timezone, variables)


@dataclass(frozen=True, slots=True)
class Record:
    """One data row as read: its first line in the file (1-based) and its fields."""

    line: int
    values: list[str]


@dataclass(frozen=True)
class LeadFile:
    """A lead file whose structure is sound: its header, columns and non-blank rows."""

    path: Path
    header: list[str]
    columns: LeadColumns
    records: list[Record] = field(repr=False)


@dataclass(frozen=True, slots=True)
class ParsedLead:
    """A row that passed: the number in E.164, its country, zone and variables."""

    line: int
    phone: str
    region: str | None
    timezone: str | None
    variables: dict[str, str]


@dataclass(frozen=True, slots=True)
class Rejection:
    """A row that did not pass and why, in words for the rejects file."""

    record: Record
    reason: str


def check_region(region: str | None) -> str | None:
    """``region`` as an upper-case ISO country code (``ro`` -> ``RO``), or ``None``.

    Raises :class:`LeadImportError` for a code ``phonenumbers`` does not know.
    """
    try:
        return numbers.check_region(region)
    except numbers.InvalidNumberError as error:
        raise LeadImportError(str(error)) from None


def read_lead_file(path: Path) -> LeadFile:
    """Read and check the CSV at ``path``; raises :class:`LeadImportError` if it is unusable.

    Accepts a UTF-8 BOM, quoted fields (with commas or line breaks inside), blank
    lines and ``;`` or tab separators (the one the header uses most; ``,`` on a tie).
    """
    source = str(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise LeadImportError(f"cannot read {source}: {error.strerror}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise LeadImportError(
            f"{source} is not UTF-8 text (line {line} has the byte "
            f"0x{data[error.start]:02x}); save it as 'CSV UTF-8' and import it again"
        ) from None
    header_line = text.lstrip().split("\n", 1)[0]
    delimiter = max(_DELIMITERS, key=header_line.count)
    # strict: a stray quote would otherwise swallow the rows after it into one field.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    header: list[str] | None = None
    records: list[Record] = []
    next_line = 1
    try:
        for values in reader:
            line, next_line = next_line, reader.line_num + 1
            if not any(value.strip() for value in values):
                continue
            if header is None:
                header = values
            else:
                records.append(Record(line, values))
    except csv.Error as error:
        raise LeadImportError(
            f"{source}, line {next_line}: {error}; check the double quotes on that row"
        ) from None
    if header is None:
        raise LeadImportError(
            f"{source} is empty; it needs a header row with a 'phone' column, then one lead per row"
        )
    columns = LeadColumns.from_header(header, source)
    if not records:
        raise LeadImportError(f"{source} has a header but no leads")
    return LeadFile(path, header, columns, records)


class _RowError(Exception):
    """Raised inside :func:`normalise_record` to turn the row into a :class:`Rejection`."""


def normalise_record(
    record: Record, columns: LeadColumns, region: str | None
) -> ParsedLead | Rejection:
    """Check one row and normalise its number to E.164.

    National numbers are read in ``region``; ``+`` numbers need none. A short row
    is padded with blanks (exports drop trailing empty fields); a long one is refused.
    """
    width = columns.width
    try:
        if len(record.values) > width:
            raise _RowError(
                f"{len(record.values)} fields but the header has {width}; "
                "put values that contain the separator in double quotes"
            )
        values = record.values + [""] * (width - len(record.values))
        number = _parse_phone(values[columns.phone].strip(), region)
        zone = values[columns.timezone].strip() if columns.timezone is not None else ""
        if zone and not _known_zone(zone):
            raise _RowError(f"unknown timezone {zone!r}; use an IANA name like Europe/Bucharest")
    except _RowError as rejected:
        return Rejection(record, str(rejected))
    country = phonenumbers.region_code_for_number(number)
    variables = {
        name: value for index, name in columns.variables if (value := values[index].strip())
    }
    return ParsedLead(
        record.line,
        str(phonenumbers.format_number(number, _E164)),
        None if country in (None, _NON_GEOGRAPHIC) else country,
        zone or None,
        variables,
    )


@functools.lru_cache(maxsize=1024)
def _known_zone(name: str) -> bool:
    # A file repeats a few zones thousands of times; ZoneInfo caches only the found ones.
    return is_timezone(name)


def _parse_phone(text: str, region: str | None) -> phonenumbers.PhoneNumber:
    """The valid number written as ``text``; raises :class:`_RowError` with the reason."""
    try:
        return numbers.parse(text, region)
    except numbers.InvalidNumberError as error:
        raise _RowError(str(error)) from None
