"""Phone numbers: every rule for reading one and writing it in E.164, in one place.

The engine stores and matches numbers in E.164 (``+40712345678``). Three kinds of
input reach it:

- what a person writes (an imported file, ``leads show``, ``chats history``,
  ``sequences preview``): :func:`to_e164` reads it like ``phonenumbers`` does, national
  numbers in a region, and accepts only a *valid* number, saying why not otherwise;
- our own numbers in the config: :func:`is_e164` (written in E.164 already, and a
  possible number for its country);
- what TimelinesAI writes (with or without ``+``, ``00``, separators, JIDs such as
  ``40712345678@s.whatsapp.net``): :func:`from_provider`, which only reshapes digits
  (a number a provider gives is matched as written, never judged).
"""

from __future__ import annotations

import re
from typing import Final

import phonenumbers

from engine.errors import OutreachError

__all__ = [
    "InvalidNumberError",
    "check_region",
    "from_provider",
    "is_e164",
    "lookup_candidates",
    "parse",
    "to_e164",
]

_E164: Final = re.compile(r"^\+[1-9][0-9]{6,14}$")
_SEPARATORS: Final = re.compile(r"[\s().\-]")
_DIGITS: Final = re.compile(r"^[1-9][0-9]{5,14}$")
_FORMAT: Final = phonenumbers.PhoneNumberFormat.E164


class InvalidNumberError(OutreachError):
    """A number that cannot be read; the message says why, in words for the operator."""


def check_region(region: str | None) -> str | None:
    """``region`` as an upper-case ISO country code (``ro`` -> ``RO``), or ``None``;
    :class:`InvalidNumberError` for a code ``phonenumbers`` does not know."""
    if region is None or not region.strip():
        return None
    code = region.strip().upper()
    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise InvalidNumberError(f"unknown region {region!r}; use a two-letter code such as RO")
    return code


def parse(text: str, region: str | None, *, valid: bool = True) -> phonenumbers.PhoneNumber:
    """The valid number written as ``text`` (national numbers read in ``region``, which
    :func:`check_region` has checked); :class:`InvalidNumberError` says why it is not one.
    ``valid=False`` asks only that it be possible (a lookup of a number libphonenumber's
    metadata may not know yet), not that it be assigned."""
    text = text.strip()
    if not text:
        raise InvalidNumberError("no phone number")
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as error:
        if error.error_type == phonenumbers.NumberParseException.INVALID_COUNTRY_CODE:
            if region is None and not text.startswith("+"):
                raise InvalidNumberError(
                    f"{text!r} has no country code; write it as +<country code>..., "
                    "or pass --region (or set [leads] default_region)"
                ) from None
            raise InvalidNumberError(f"{text!r} has an unknown country code") from None
        raise InvalidNumberError(f"{text!r} is not a phone number") from None
    if not (phonenumbers.is_valid_number if valid else phonenumbers.is_possible_number)(number):
        raise InvalidNumberError(
            f"{text!r} is not a {'valid' if valid else 'possible'} phone number"
        )
    return number


def to_e164(text: str, region: str | None = None, *, valid: bool = True) -> str:
    """What a person wrote, in E.164: ``0712 345 678`` in ``RO`` is ``+40712345678``
    (``valid``: see :func:`parse`)."""
    number = parse(text, check_region(region), valid=valid)
    return str(phonenumbers.format_number(number, _FORMAT))


def is_e164(number: str) -> bool:
    """True when ``number`` is written in E.164 and is a possible number for its country."""
    if not _E164.match(number):
        return False
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return False
    return bool(phonenumbers.is_possible_number(parsed))


def from_provider(value: str) -> str | None:
    """``+40712345678`` from ``40712345678``, ``+40 712-345-678``, ``0040…`` or a JID;
    ``None`` when what is left is not 6-15 digits (not a number we could match)."""
    text = _SEPARATORS.sub("", value.split("@", 1)[0])
    if text.startswith("+"):
        text = text[1:]
    elif text.startswith("00"):
        text = text[2:]
    return f"+{text}" if _DIGITS.match(text) else None


def lookup_candidates(text: str, region: str | None) -> list[str]:
    """The numbers (E.164) a person may mean by ``text`` when looking a lead up, likeliest
    first: as read in ``region`` (any *possible* number), then its digits taken as
    written with their country code (``40712345678``, ``0040 712 345 678``).

    :class:`InvalidNumberError` (the reading in ``region``'s reason) when it is neither.
    """
    found: list[str] = []
    error: InvalidNumberError | None = None
    try:
        found.append(to_e164(text, region, valid=False))
    except InvalidNumberError as reading:
        error = reading
    digits = from_provider(text.strip())
    if digits is not None and digits not in found and is_e164(digits):
        found.append(digits)
    if not found:
        assert error is not None
        raise error
    return found
