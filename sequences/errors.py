"""The errors of the sequences subsystem: a journey that cannot move, a lead file that cannot load.

Configuration mistakes in ``[sequences.*]`` are :class:`engine.errors.ConfigError`s
(they name the file and the key); the classes here cover what goes wrong at run time.
"""

from __future__ import annotations

from engine.errors import OutreachError

__all__ = ["CampaignError", "IllegalTransition", "LeadImportError", "SequencesError"]


class SequencesError(OutreachError):
    """Raised when a sequence, an enrollment or a lead import cannot do what was asked."""


# The name is the one the engine codes against; it reads as the event it reports.
class IllegalTransition(SequencesError):  # noqa: N818
    """Raised when an enrollment is asked to move to a state it cannot reach from its own."""

    def __init__(self, current: str, target: str, reason: str) -> None:
        super().__init__(f"enrollment cannot go from {current!r} to {target!r}: {reason}")
        self.current = current
        self.target = target


class LeadImportError(SequencesError):
    """Raised when a lead file cannot be imported at all (nothing is written)."""


class CampaignError(SequencesError):
    """Raised when a campaign cannot be created, launched, paused, resumed or stopped as asked."""
