"""A lead's name, read from the columns it was imported with, and the key a search
finds it by. One rule for the CLI's lists, the timeline, the review queue and the
console's lead search (which reads the key from ``leads.name_key``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

__all__ = ["NAME_KEY_CHARS", "lead_name", "name_key", "search_key"]

NAME_KEY_CHARS: Final = 200
"""The stored key keeps this many characters of the name (a name is never longer)."""


def lead_name(variables: Mapping[str, str] | None) -> str | None:
    """The lead's name from its imported columns: ``name``, ``full_name``, else first and
    last name together; ``None`` when the file had none."""
    values = variables or {}
    for key in ("name", "full_name"):
        if str(values.get(key) or "").strip():
            return str(values[key]).strip()
    parts = [str(values.get(key) or "").strip() for key in ("first_name", "last_name")]
    return " ".join(part for part in parts if part) or None


def search_key(text: str) -> str:
    """``text`` as a name search compares it: case folded (``Ștefan`` and ``ȘTEFAN``
    are one name on every database), runs of spaces made one."""
    return " ".join(text.casefold().split())


def name_key(variables: Mapping[str, str] | None) -> str | None:
    """What ``leads.name_key`` holds for a lead with these ``variables``: its
    :func:`lead_name` as :func:`search_key` writes it, ``None`` without a name."""
    name = lead_name(variables)
    return None if name is None else search_key(name)[:NAME_KEY_CHARS] or None
