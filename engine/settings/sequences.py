"""The raw ``[sequences.NAME]`` and ``[leads]`` tables, as the config loader fills them.

These mirror the TOML one to one and check nothing beyond types; the loader refuses
unknown keys. :func:`sequences.definition.compile_sequences` validates them and turns
them into :class:`~sequences.definition.Sequence` objects.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["LeadsSettings", "SequenceSettings", "StepSettings", "WindowSettings"]


@dataclass(frozen=True)
class WindowSettings:
    """``send_window``: the local days and hours a sequence may send; ``end`` may be 24:00."""

    days: str = "mon-sun"
    start: str = "00:00"
    end: str = "24:00"


@dataclass(frozen=True)
class StepSettings:
    """One ``[[sequences.NAME.steps]]`` entry: a delay and a message (one template or variants)."""

    after: str = "0m"
    template: str | None = None
    variants: tuple[str, ...] | None = None
    media_url: str | None = None


@dataclass(frozen=True)
class SequenceSettings:
    """``[sequences.NAME]``: whose clock it follows, when it may send (and on which days
    not: the public holidays of the lead's country, the ``skip_dates``), its steps."""

    timezone: str = "lead"
    send_window: WindowSettings | None = None
    stop_on_reply: bool = True
    on_company_reply: str = "pause"
    """What a reply from a colleague (a lead with the same company) does to this
    sequence's running enrollments: ``pause``, ``stop`` or ``continue``."""
    steps: tuple[StepSettings, ...] = ()
    skip_holidays: bool = True
    skip_dates: tuple[str, ...] = ()


@dataclass(frozen=True)
class LeadsSettings:
    """``[leads]``: defaults for ``outreach leads import``."""

    default_region: str | None = None
