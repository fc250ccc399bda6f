"""A lead file's header: which column holds the number, the country, the zone, the variables.

The number's column may be named as people name it (:data:`PHONE_COLUMNS`: ``Phone``,
``Mobile``, ``Telefon``, ``WhatsApp``, ``Number``, in any case, with spaces around),
or named outright (``--phone-column``). Two columns that could both be the number
are refused rather than one picked: the wrong one would import a file of landlines.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from sequences.errors import LeadImportError

__all__ = [
    "COUNTRY_COLUMNS",
    "PHONE_COLUMNS",
    "TIMEZONE_COLUMN",
    "LeadColumns",
    "variable_name",
]

PHONE_COLUMNS: Final = (
    "phone", "phone_number", "phone_no", "mobile", "mobile_phone", "mobile_number", "cell",
    "cell_phone", "telephone", "tel", "telefon", "telefon_mobil", "nr_telefon", "mobil",
    "whatsapp", "whatsapp_number", "number", "msisdn",
)  # fmt: skip
"""Column names (as :func:`variable_name` writes them) taken to hold each lead's number."""

COUNTRY_COLUMNS: Final = ("country", "country_code")
"""Columns whose name or ISO code says how a number written without ``+`` is read.

The column stays a template variable too (``{{country}}``)."""

TIMEZONE_COLUMN: Final = "timezone"
"""The optional column with each lead's IANA zone; not a template variable."""

_NOT_NAME_CHARS: Final = re.compile(r"[^\w.]+")


def variable_name(header: str) -> str:
    """The template variable a column header becomes: ``"First Name "`` -> ``first_name``.

    Lowercased, every run of characters other than letters, digits, ``_`` and ``.``
    replaced by ``_``, and ``_`` or ``.`` trimmed from the ends, so it can be written
    as ``{{first_name}}``.
    """
    return _NOT_NAME_CHARS.sub("_", header.strip().lower()).strip("_.")


@dataclass(frozen=True)
class LeadColumns:
    """Where the phone, country, timezone and each variable sit in a row (0-based indexes).

    ``width`` is the number of fields in the header.
    """

    width: int
    phone: int
    timezone: int | None
    variables: tuple[tuple[int, str], ...]
    country: int | None = None

    @classmethod
    def from_header(
        cls, header: Sequence[str], source: str, phone_column: str | None = None
    ) -> LeadColumns:
        """Map a header row; raises :class:`LeadImportError` when it cannot be used.

        ``phone_column`` names the number's column; without it one of
        :data:`PHONE_COLUMNS` must be there, and only one.
        """
        names = _names(header, source)
        phone_name = _phone_name(names, header, source, phone_column)
        timezone = names.pop(TIMEZONE_COLUMN, None)
        phone = names.pop(phone_name)
        countries = [name for name in COUNTRY_COLUMNS if name in names]
        if len(countries) > 1:
            raise LeadImportError(
                f"{source}: columns {_titles(header, names, countries)} both give the country; "
                "keep one"
            )
        country = names[countries[0]] if countries else None
        variables = tuple((index, name) for name, index in names.items())
        return cls(len(header), phone, timezone, variables, country)


def _names(header: Sequence[str], source: str) -> dict[str, int]:
    names: dict[str, int] = {}
    for index, title in enumerate(header):
        if not title.strip():
            continue  # spreadsheet exports often end rows with empty columns
        name = variable_name(title)
        if not name:
            raise LeadImportError(
                f"{source}: column {title!r} has no letter or digit to name a variable; rename it"
            )
        if name in names:
            raise LeadImportError(
                f"{source}: columns {header[names[name]]!r} and {title!r} would both be "
                f"the variable {name!r}; rename one"
            )
        names[name] = index
    return names


def _phone_name(
    names: dict[str, int], header: Sequence[str], source: str, phone_column: str | None
) -> str:
    found = ", ".join(repr(title) for title in header if title.strip()) or "none"
    if phone_column is not None:
        wanted = variable_name(phone_column)
        if wanted not in names:
            raise LeadImportError(
                f"{source} has no column {phone_column!r} (columns: {found}); check --phone-column"
            )
        return wanted
    candidates = [name for name in PHONE_COLUMNS if name in names]
    if not candidates:
        raise LeadImportError(
            f"{source} has no column for the numbers (columns: {found}); name it 'phone' "
            "(or Mobile, Telefon, WhatsApp, Number) or pass --phone-column NAME"
        )
    if len(candidates) > 1:
        raise LeadImportError(
            f"{source}: columns {_titles(header, names, candidates)} could each hold the "
            "numbers; pass --phone-column NAME to say which"
        )
    return candidates[0]


def _titles(header: Sequence[str], names: dict[str, int], chosen: Sequence[str]) -> str:
    return " and ".join(repr(header[names[name]].strip()) for name in chosen)
