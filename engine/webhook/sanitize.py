"""Making posted JSON storable: text without NUL or lone surrogates, no NaN, bounded depth.

PostgreSQL refuses NUL in text and unpaired surrogates anywhere, and its ``json``
type refuses ``NaN``: a body carrying them would otherwise fail at the database
(a 5xx) instead of being stored or refused cleanly.
"""

from __future__ import annotations

import math
from typing import Any

from engine.webhook.errors import BadBodyError

__all__ = ["MAX_DEPTH", "clean_payload", "clean_text"]

MAX_DEPTH = 32


def clean_payload(body: dict[str, Any]) -> dict[str, Any]:
    """``body`` with strings the database can store and non-finite numbers as null."""
    cleaned: dict[str, Any] = _clean_tree(body, 0)
    return cleaned


def _clean_tree(value: Any, depth: int) -> Any:
    """Strings without NUL or lone surrogates, non-finite floats as null; depth bounded."""
    if depth > MAX_DEPTH:
        raise BadBodyError(f"the body is nested more than {MAX_DEPTH} levels deep")
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {clean_text(key): _clean_tree(item, depth + 1) for key, item in value.items()}
    if isinstance(value, list):
        return [_clean_tree(item, depth + 1) for item in value]
    return value


def clean_text(text: str) -> str:
    """``text`` as the database can store it: NUL removed, unpaired surrogates replaced."""
    if "\x00" in text:
        text = text.replace("\x00", "")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text
