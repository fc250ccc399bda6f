"""Phone numbers as TimelinesAI writes them, turned into the E.164 the engine stores.

TimelinesAI gives numbers with or without ``+``, sometimes with spaces or dashes,
and accounts as JIDs (``40712345678@s.whatsapp.net``). Leads are stored in E.164,
so a number is matched once it is written the same way.
"""

from __future__ import annotations

import re

__all__ = ["normalise_number"]

_SEPARATORS = re.compile(r"[\s().\-]")
_DIGITS = re.compile(r"^[1-9][0-9]{5,14}$")


def normalise_number(value: str) -> str | None:
    """``+40712345678`` from ``40712345678``, ``+40 712-345-678``, ``0040…`` or a JID.

    ``None`` when what is left is not 6-15 digits (not a number we could match).
    """
    text = value.split("@", 1)[0]
    text = _SEPARATORS.sub("", text)
    if text.startswith("+"):
        text = text[1:]
    elif text.startswith("00"):
        text = text[2:]
    return f"+{text}" if _DIGITS.match(text) else None
