"""The company a lead works at, as a key its colleagues share: one rule for the
import, the ORM, the migration that fills existing leads and the reply that pauses a
company's other sequences (``leads.company_key``)."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Final

__all__ = ["COMPANY_KEY_CHARS", "CompanyReply", "company_key"]

COMPANY_KEY_CHARS: Final = 200
"""The stored key keeps this many characters (a company's name or domain is shorter)."""

_WEB_PREFIXES: Final = ("https://", "http://")


class CompanyReply(StrEnum):
    """What a reply does to the running sequences of the replying lead's colleagues
    (``[sequences.NAME] on_company_reply``)."""

    PAUSE = "pause"
    STOP = "stop"
    CONTINUE = "continue"


def _domain(value: str) -> str:
    domain = value.strip().lower()
    for prefix in _WEB_PREFIXES:
        domain = domain.removeprefix(prefix)
    return domain.split("/", 1)[0].removeprefix("www.").rstrip(".")


def company_key(variables: Mapping[str, str] | None) -> str | None:
    """The lead's company key: its ``company_domain`` (lower case, without a scheme,
    a path or ``www.``), else its ``company`` (case folded, runs of spaces made one);
    ``None`` when it has neither, and then it belongs to no group."""
    values = variables or {}
    domain = _domain(str(values.get("company_domain") or ""))
    if domain:
        return domain[:COMPANY_KEY_CHARS]
    name = " ".join(str(values.get("company") or "").casefold().split())
    return name[:COMPANY_KEY_CHARS] or None
