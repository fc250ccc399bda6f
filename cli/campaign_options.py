"""The arguments ``campaign launch`` and ``campaign create`` share, and how they are read.

A campaign's name, its sequence (``--sequence``, or the campaign's own, or the sequence
of the same name: the short form), ``--phones`` checked against the config and
``--start`` read in the sequence's time zone. Usage mistakes exit 2; a campaign that
cannot be what was asked is a :class:`~sequences.CampaignError` (exit 1).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cli.sequences_cmd import find_sequence

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
    "saved_file",
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
    """The campaign ``name`` (if saved) and the sequence it runs."""
    from sequences import CampaignError, compiled_sequences, find_campaign

    if not name.strip() or len(name) > 64:
        raise typer.BadParameter("a campaign's name is 1 to 64 characters", param_hint="NAME")
    with database.engine.connect() as connection:
        found = find_campaign(connection, name)
    if sequence is None and found is None and name not in compiled_sequences(settings):
        known = ", ".join(sorted(compiled_sequences(settings))) or "none"
        raise CampaignError(
            f"no campaign {name!r} and no sequence of that name; name its sequence: "
            f"`outreach campaign launch {name} --sequence SEQUENCE` (defined: {known})"
        )
    chosen = find_sequence(settings, sequence or (found.sequence if found else name))
    if found is not None and found.sequence != chosen.name:
        raise CampaignError(
            f"campaign {name!r} runs sequence {found.sequence!r}, not {chosen.name!r}; "
            "name a new campaign to run another sequence"
        )
    return found, chosen


def phones_of(settings: Settings, text: str) -> tuple[str, ...]:
    """``--phones 01,02`` as configured phone ids; refuses an unknown one."""
    known = [phone.id for phone in settings.phones]
    chosen = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [part for part in chosen if part not in known]
    if unknown or not chosen:
        what = f"unknown phone {unknown[0]!r}" if unknown else "no phone given"
        raise typer.BadParameter(f"{what}; configured: {', '.join(known)}", param_hint="--phones")
    return tuple(sorted(set(chosen)))


def start_of(settings: Settings, sequence: Sequence, text: str) -> datetime:
    from sequences import parse_start
    from sequences.syntax import LEAD_TIMEZONE

    zone = settings.quota.timezone if sequence.timezone == LEAD_TIMEZONE else sequence.timezone
    try:
        return parse_start(text, zone)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--start") from None


def saved_file(name: str, path: str) -> Path:
    from sequences import CampaignError

    saved = Path(path)
    if not saved.is_file():
        raise CampaignError(
            f"campaign {name!r} was saved with the lead file {path}, which is gone; "
            "give --leads FILE or --tag TAG"
        )
    return saved
