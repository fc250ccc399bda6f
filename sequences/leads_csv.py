"""Reading a lead file: its rows, and each row checked and normalised.

The whole file is read and its structure checked (its encoding, a header with a
column for the numbers (:mod:`sequences.lead_columns`), at least one row) before
anything is written, so a bad file changes nothing. Row-level problems (a number
that is not valid, an unknown country or timezone) only reject that row, with the
reason.

A number written without ``+`` is read in the row's country (a ``country`` column,
by name or ISO code) if it has one, else in the region the caller gives (``--region``,
then ``[leads] default_region``); a rejection says which region it assumed.
"""

from __future__ import annotations

import codecs
import csv
import functools
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import phonenumbers

from engine import numbers
from sequences.countries import UnknownCountryError, region_for_country
from sequences.errors import LeadImportError
from sequences.lead_columns import LeadColumns
from sequences.syntax import is_timezone

__all__ = [
    "DEFAULT_ENCODING",
    "LeadFile",
    "ParsedLead",
    "Record",
    "Rejection",
    "check_encoding",
    "check_region",
    "normalise_record",
    "read_lead_file",
]

DEFAULT_ENCODING: Final = "utf-8"
"""A lead file's encoding unless told otherwise; a UTF-8 byte-order mark is skipped."""

_DELIMITERS: Final = (",", ";", "\t")
_NON_GEOGRAPHIC: Final = "001"  # phonenumbers' region of +800, +882 and the like
_E164: Final = phonenumbers.PhoneNumberFormat.E164


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


def check_encoding(encoding: str) -> str:
    """``encoding`` as Python names it (``CP1250`` -> ``cp1250``); raises
    :class:`LeadImportError` for one it does not know."""
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        raise LeadImportError(
            f"unknown encoding {encoding!r}; use utf-8, cp1250 (Central European Excel) "
            "or latin-1 (Western European Excel)"
        ) from None


def read_lead_file(
    path: Path, *, encoding: str = DEFAULT_ENCODING, phone_column: str | None = None
) -> LeadFile:
    """Read and check the CSV at ``path``; raises :class:`LeadImportError` if it is unusable.

    Accepts text in ``encoding`` (a UTF-8 BOM is skipped), quoted fields (with commas
    or line breaks inside), blank lines and ``;`` or tab separators (the one the
    header uses most; ``,`` on a tie). ``phone_column`` names the numbers' column
    (see :class:`~sequences.lead_columns.LeadColumns`).
    """
    source = str(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise LeadImportError(f"cannot read {source}: {error.strerror}") from None
    text = _decode(data, check_encoding(encoding), source)
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
    columns = LeadColumns.from_header(header, source, phone_column)
    if not records:
        raise LeadImportError(f"{source} has a header but no leads")
    return LeadFile(path, header, columns, records)


def _decode(data: bytes, encoding: str, source: str) -> str:
    """The file's text; one line with a hint when ``encoding`` is not the file's."""
    utf8 = encoding in ("utf-8", "utf-8-sig")
    try:
        text = data.decode("utf-8-sig" if utf8 else encoding)
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        hint = (
            "if it was exported from Excel, pass --encoding cp1250 (Central Europe) or "
            "latin-1 (Western Europe), or save it as 'CSV UTF-8'"
            if utf8
            else "check --encoding, or save it as 'CSV UTF-8' and leave --encoding out"
        )
        raise LeadImportError(
            f"{source} is not {'UTF-8' if utf8 else encoding} text (line {line} has the byte "
            f"0x{data[error.start]:02x}); {hint}"
        ) from None
    if not utf8 and not data.isascii() and _is_utf8(data):
        # Read as cp1250 or latin-1, UTF-8 text imports as "RomÃ¢nia" without a single error.
        raise LeadImportError(
            f"{source} looks like UTF-8 text, not {encoding}; import it without --encoding"
        )
    return text


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


class _RowError(Exception):
    """Raised inside :func:`normalise_record` to turn the row into a :class:`Rejection`."""


def normalise_record(
    record: Record, columns: LeadColumns, region: str | None
) -> ParsedLead | Rejection:
    """Check one row and normalise its number to E.164.

    A number without ``+`` is read in the row's country if the file has a country
    column and the row fills it, else in ``region``. An unknown country rejects the
    row, whatever its number. A short row is padded with blanks (exports drop
    trailing empty fields); a long one is refused.
    """
    width = columns.width
    try:
        if len(record.values) > width:
            raise _RowError(
                f"{len(record.values)} fields but the header has {width}; "
                "put values that contain the separator in double quotes"
            )
        values = record.values + [""] * (width - len(record.values))
        country = values[columns.country].strip() if columns.country is not None else ""
        number = _parse_phone(
            values[columns.phone].strip(), _row_region(country) if country else region
        )
        zone = values[columns.timezone].strip() if columns.timezone is not None else ""
        if zone and not _known_zone(zone):
            raise _RowError(f"unknown timezone {zone!r}; use an IANA name like Europe/Bucharest")
    except _RowError as rejected:
        return Rejection(record, str(rejected))
    number_region = phonenumbers.region_code_for_number(number)
    variables = {
        name: value for index, name in columns.variables if (value := values[index].strip())
    }
    return ParsedLead(
        record.line,
        str(phonenumbers.format_number(number, _E164)),
        None if number_region in (None, _NON_GEOGRAPHIC) else number_region,
        zone or None,
        variables,
    )


@functools.lru_cache(maxsize=1024)
def _known_zone(name: str) -> bool:
    # A file repeats a few zones thousands of times; ZoneInfo caches only the found ones.
    return is_timezone(name)


def _row_region(country: str) -> str:
    try:
        return region_for_country(country)
    except UnknownCountryError as error:
        raise _RowError(str(error)) from None


def _parse_phone(text: str, region: str | None) -> phonenumbers.PhoneNumber:
    """The valid number written as ``text``; raises :class:`_RowError` with the reason,
    saying in which region a number without ``+`` was read."""
    try:
        return numbers.parse(text, region)
    except numbers.InvalidNumberError as error:
        assumed = f" (read as {region})" if region and not text.startswith("+") else ""
        raise _RowError(f"{error}{assumed}") from None
