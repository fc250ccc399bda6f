"""Sequences: what to send a lead and when, the lead's journey through it, and importing leads.

Pure decisions (definitions, windows, due times, variants, the state machine) take
their inputs and ``now``; only :func:`import_leads` and :func:`lead_page` touch
storage, through a database or session passed in.
"""

from sequences.config import LeadsSettings, SequenceSettings, StepSettings, WindowSettings
from sequences.definition import (
    ASSUMED_VARIABLE_LENGTH,
    MAX_MESSAGE_LENGTH,
    SendWindow,
    Sequence,
    Step,
    compile_sequences,
    missing_variables,
)
from sequences.errors import IllegalTransition, LeadImportError, SequencesError
from sequences.journey import END_STATES, RUNNING_STATES, EndReason, end, end_state, transition
from sequences.leads_csv import check_region, variable_name
from sequences.leads_import import ImportReport, Progress, import_leads, rejects_path_for
from sequences.leads_query import LeadPage, LeadSummary, lead_page
from sequences.schedule import choose_variant, first_due, next_due
from sequences.windows import is_open, lead_timezone, next_open, zone_for_number

__all__ = [
    "ASSUMED_VARIABLE_LENGTH",
    "END_STATES",
    "MAX_MESSAGE_LENGTH",
    "RUNNING_STATES",
    "EndReason",
    "IllegalTransition",
    "ImportReport",
    "LeadImportError",
    "LeadPage",
    "LeadSummary",
    "LeadsSettings",
    "Progress",
    "SendWindow",
    "Sequence",
    "SequenceSettings",
    "SequencesError",
    "Step",
    "StepSettings",
    "WindowSettings",
    "check_region",
    "choose_variant",
    "compile_sequences",
    "end",
    "end_state",
    "first_due",
    "import_leads",
    "is_open",
    "lead_page",
    "lead_timezone",
    "missing_variables",
    "next_due",
    "next_open",
    "rejects_path_for",
    "transition",
    "variable_name",
    "zone_for_number",
]
