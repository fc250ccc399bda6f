"""Country names and codes as people write them, to the ISO code a national number is read in.

A lead file's ``country`` column may hold an ISO code (``US``, ``gb``, ``ROU``), an
English name (``United States``, ``Romania``), a common short name (``UK``,
``Russia``) or the name in a Central or Western European language (``România``,
``Deutschland``, ``Magyarország``). The names come from ``pycountry`` (the ISO 3166
data of Debian's iso-codes, with its translations), so they stay current without a
table of our own; :data:`ALIASES` adds the few everyday names ISO does not use.

Matching ignores case, accents, punctuation and spacing, and is exact otherwise: a
name that is not known, or that two countries share, is refused, never guessed.
"""

from __future__ import annotations

import functools
import gettext
import re
import unicodedata
from collections.abc import Mapping
from typing import Final

import phonenumbers
import pycountry

from sequences.errors import SequencesError

__all__ = ["ALIASES", "UnknownCountryError", "region_for_country"]

ALIASES: Final[Mapping[str, str]] = {
    "UK": "GB",
    "Great Britain": "GB",
    "Britain": "GB",
    "England": "GB",
    "Scotland": "GB",
    "Wales": "GB",
    "Northern Ireland": "GB",
    "America": "US",
    "United States of America": "US",
    "Russia": "RU",
    "Turkey": "TR",
    "Holland": "NL",
    "Ivory Coast": "CI",
    "Macedonia": "MK",
    "Kosovo": "XK",
    "Czech Republic": "CZ",
    "Moldavia": "MD",
}
"""Everyday names (and ``UK``, which is not an ISO code) that ISO 3166 does not list."""

_LANGUAGES: Final = ("ro", "de", "fr", "es", "it", "pt", "nl", "pl", "hu", "cs", "sk", "hr", "bg")
"""Languages whose country names are understood besides English."""

_NOT_LETTERS: Final = re.compile(r"[^a-z0-9]+")


class UnknownCountryError(SequencesError):
    """Raised when a country name or code cannot be mapped to one region's numbers."""


def region_for_country(text: str) -> str:
    """The ISO code (``GB``) of the country written as ``text`` (``"United Kingdom"``, ``"uk"``).

    Raises :class:`UnknownCountryError` for a name not known, shared by two countries,
    or a country whose numbers ``phonenumbers`` cannot read (Antarctica).
    """
    code = _names().get(_fold(text))
    if code is None:
        raise UnknownCountryError(
            f"unknown country {text.strip()!r}; write a name such as 'United Kingdom' "
            "or a two-letter code such as GB"
        )
    return code


def _fold(text: str) -> str:
    """``"  Românía "`` -> ``"romania"``: lower case, accents and punctuation dropped."""
    decomposed = unicodedata.normalize("NFKD", text.strip().lower())
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    return _NOT_LETTERS.sub("", bare)


@functools.cache
def _names() -> Mapping[str, str]:
    """Every known way to write each country, folded, to its ISO code.

    English names and codes first; a translated name that folds like another
    country's name, in any language, is dropped as ambiguous.
    """
    names: dict[str, str] = {}
    translated: dict[str, set[str]] = {}
    for country in pycountry.countries:
        code = country.alpha_2
        if code not in phonenumbers.SUPPORTED_REGIONS:
            continue
        for attribute in ("alpha_2", "alpha_3", "name", "official_name", "common_name"):
            value = getattr(country, attribute, None)
            if value:
                names.setdefault(_fold(value), code)
        for language in _LANGUAGES:
            local = _translation(language).gettext(country.name)
            translated.setdefault(_fold(local), set()).add(code)
    for name, code in ALIASES.items():
        names[_fold(name)] = code
    for name, codes in translated.items():
        if len(codes) == 1 and name not in names:
            names[name] = next(iter(codes))
    return names


def _translation(language: str) -> gettext.NullTranslations:
    return gettext.translation(
        "iso3166-1", pycountry.LOCALES_DIR, languages=[language], fallback=True
    )
