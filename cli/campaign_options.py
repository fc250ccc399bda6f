"""The arguments ``campaign launch`` and ``campaign create`` share, and how they are read.

A campaign's name, its sequence (``--sequence``, or the campaign's own, or the sequence
of the same name: the short form), ``--phones`` checked against the config and
``--start`` read in the sequence's time zone, each read by :mod:`engine.campaign_launch`
(which the console shares). Usage mistakes exit 2; a campaign that cannot be what was
asked is a :class:`~sequences.CampaignError` (exit 1).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from engine.db import Database
    from engine.settings import Settings
    from sequences import (
        CampaignRecord,
        Sequence,
    )

__all__ = [
    "LeadsOption",
    "NameArgument",
    "NewNameArgument",
    "PhonesOption",
    "RegionOption",
    "SequenceOption",
    "StartOption",
    "TagOption",
    "phones_of",
    "resolve",
    "start_of",
]

NameArgument = Annotated[str, typer.Argument(help="The campaign's name.")]
NewNameArgument = Annotated[
    str,
    typer.Argument(
        help="The campaign's name (at most 64 characters); without --sequence, also the "
        "sequence's: the campaign named after its sequence."
    ),
]
SequenceOption = Annotated[
    str | None,
    typer.Option(
        "--sequence",
        help="The sequence it runs, as named in the config. Default: the campaign's own, "
        "or the sequence named NAME.",
        show_default=False,
    ),
]
TagOption = Annotated[str | None, typer.Option(help="Enroll the leads with this tag.")]
LeadsOption = Annotated[
    Path | None,
    typer.Option(
        help="Enroll the leads whose numbers are in this CSV's 'phone' column.",
        exists=True,
        dir_okay=False,
        readable=True,
    ),
]
PhonesOption = Annotated[
    str | None,
    typer.Option(
        help="Start conversations only from these phones, comma-separated (01,02). "
        "Default: every phone (or the campaign's saved ones).",
        show_default=False,
    ),
]
StartOption = Annotated[
    str | None,
    typer.Option(
        help='Send nothing before this moment, "YYYY-MM-DD HH:MM" in the sequence\'s time '
        "zone (the quota's time zone for a sequence in each lead's zone). Default: at once.",
        show_default=False,
    ),
]
RegionOption = Annotated[
    str | None,
    typer.Option(
        help="Country (ISO code) of --leads numbers written without +country. "
        "Default: default_region in the config's leads table.",
        show_default=False,
    ),
]


def resolve(
    settings: Settings, database: Database, name: str, sequence: str | None
) -> tuple[CampaignRecord | None, Sequence]:
    """The campaign ``name`` (if saved) and the sequence it runs
    (:func:`engine.campaign_launch.resolve`); a name too long is a usage error."""
    from engine import campaign_launch

    try:
        campaign_launch.check_name(name)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="NAME") from None
    return campaign_launch.resolve(settings, database, name, sequence)


def phones_of(settings: Settings, text: str) -> tuple[str, ...]:
    """``--phones 01,02`` as configured phone ids; refuses an unknown one."""
    from engine import campaign_launch

    try:
        return campaign_launch.phones_of(settings, text)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--phones") from None


def start_of(settings: Settings, sequence: Sequence, text: str) -> datetime:
    from engine import campaign_launch

    try:
        return campaign_launch.start_of(settings, sequence, text)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--start") from None
