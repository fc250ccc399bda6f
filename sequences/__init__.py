"""Sequences: what to send a lead and when, the lead's journey through it, and importing leads.

Pure decisions (definitions, windows, due times, variants, the state machine, the
forecast) take their inputs and ``now``; importing leads, launching, pausing, resuming
and stopping campaigns and finding leads to preview touch storage, through a database
or connection passed in.
"""

from typing import TYPE_CHECKING

from engine.lazy import export_lazily

if TYPE_CHECKING:
    from engine.settings import LeadsSettings, SequenceSettings, StepSettings, WindowSettings
    from sequences.campaign_states import Action, moves, next_state, parse_start
    from sequences.campaign_store import (
        CampaignRecord,
        Selection,
        create,
        find_campaign,
        list_campaigns,
    )
    from sequences.campaigns import (
        CampaignChange,
        CampaignError,
        complete_finished,
        pause,
        resume,
        start_scheduled,
        stop,
    )
    from sequences.closed_days import ClosedDays, closed_days, lead_country
    from sequences.countries import UnknownCountryError, region_for_country
    from sequences.definition import (
        ASSUMED_VARIABLE_LENGTH,
        MAX_MESSAGE_LENGTH,
        SendWindow,
        Sequence,
        Step,
        check_templates,
        compile_sequences,
        compiled_sequences,
        find_sequence,
        missing_variables,
    )
    from sequences.errors import IllegalTransition, LeadImportError, SequencesError
    from sequences.forecast import (
        Backlog,
        Forecast,
        ForecastDay,
        Limit,
        Limits,
        PhoneCapacity,
        forecast,
    )
    from sequences.journey import (
        END_STATES,
        RUNNING_STATES,
        EndReason,
        after_send,
        end,
        end_state,
        transition,
    )
    from sequences.launch import LaunchReport, launch
    from sequences.launch_store import Refusal
    from sequences.lead_columns import PHONE_COLUMNS, variable_name
    from sequences.lead_list import LeadList, read_lead_list
    from sequences.lead_resume import Resumed, resume_lead
    from sequences.lead_search import MAX_PAGE_LEADS, LeadSearch, looks_like_number, search_leads
    from sequences.leads_csv import DEFAULT_ENCODING, check_region
    from sequences.leads_import import ImportReport, Progress, import_leads, rejects_path_for
    from sequences.leads_query import (
        LeadCampaign,
        LeadPage,
        LeadSummary,
        find_number,
        known_number,
        lead_name,
        lead_page,
        lead_summaries,
    )
    from sequences.preview import (
        PreviewLead,
        StepPreview,
        normalise_number,
        preview_leads,
        render_steps,
    )
    from sequences.schedule import choose_variant, first_due, next_due
    from sequences.windows import is_open, lead_timezone, next_open, zone_for_number

export_lazily(
    __name__,
    {
        "engine.settings": ("LeadsSettings", "SequenceSettings", "StepSettings", "WindowSettings"),
        "sequences.campaign_states": ("Action", "moves", "next_state", "parse_start"),
        "sequences.campaign_store": (
            "CampaignRecord",
            "Selection",
            "create",
            "find_campaign",
            "list_campaigns",
        ),
        "sequences.campaigns": (
            "CampaignChange",
            "CampaignError",
            "complete_finished",
            "pause",
            "resume",
            "resume_lead",
            "start_scheduled",
            "stop",
        ),
        "sequences.closed_days": ("ClosedDays", "closed_days", "lead_country"),
        "sequences.countries": ("UnknownCountryError", "region_for_country"),
        "sequences.definition": (
            "ASSUMED_VARIABLE_LENGTH",
            "MAX_MESSAGE_LENGTH",
            "SendWindow",
            "Sequence",
            "Step",
            "check_templates",
            "compile_sequences",
            "compiled_sequences",
            "find_sequence",
            "missing_variables",
        ),
        "sequences.errors": ("IllegalTransition", "LeadImportError", "SequencesError"),
        "sequences.forecast": (
            "Backlog",
            "Forecast",
            "ForecastDay",
            "Limit",
            "Limits",
            "PhoneCapacity",
            "forecast",
        ),
        "sequences.journey": (
            "END_STATES",
            "RUNNING_STATES",
            "EndReason",
            "after_send",
            "end",
            "end_state",
            "transition",
        ),
        "sequences.lead_resume": ("Resumed", "resume_lead"),
        "sequences.launch": ("LaunchReport", "launch"),
        "sequences.launch_store": ("Refusal",),
        "sequences.lead_columns": ("PHONE_COLUMNS", "variable_name"),
        "sequences.lead_list": ("LeadList", "read_lead_list"),
        "sequences.lead_search": (
            "MAX_PAGE_LEADS",
            "LeadSearch",
            "looks_like_number",
            "search_leads",
        ),
        "sequences.leads_csv": ("DEFAULT_ENCODING", "check_region"),
        "sequences.leads_import": ("ImportReport", "Progress", "import_leads", "rejects_path_for"),
        "sequences.leads_query": (
            "LeadCampaign",
            "LeadPage",
            "LeadSummary",
            "find_number",
            "known_number",
            "lead_name",
            "lead_page",
            "lead_summaries",
        ),
        "sequences.preview": (
            "PreviewLead",
            "StepPreview",
            "normalise_number",
            "preview_leads",
            "render_steps",
        ),
        "sequences.schedule": ("choose_variant", "first_due", "next_due"),
        "sequences.windows": ("is_open", "lead_timezone", "next_open", "zone_for_number"),
    },
)

__all__ = [
    "ASSUMED_VARIABLE_LENGTH",
    "DEFAULT_ENCODING",
    "END_STATES",
    "MAX_MESSAGE_LENGTH",
    "MAX_PAGE_LEADS",
    "PHONE_COLUMNS",
    "RUNNING_STATES",
    "Action",
    "Backlog",
    "CampaignChange",
    "CampaignError",
    "CampaignRecord",
    "ClosedDays",
    "EndReason",
    "Forecast",
    "ForecastDay",
    "IllegalTransition",
    "ImportReport",
    "LaunchReport",
    "LeadCampaign",
    "LeadImportError",
    "LeadList",
    "LeadPage",
    "LeadSearch",
    "LeadSummary",
    "LeadsSettings",
    "Limit",
    "Limits",
    "PhoneCapacity",
    "PreviewLead",
    "Progress",
    "Refusal",
    "Resumed",
    "Selection",
    "SendWindow",
    "Sequence",
    "SequenceSettings",
    "SequencesError",
    "Step",
    "StepPreview",
    "StepSettings",
    "UnknownCountryError",
    "WindowSettings",
    "after_send",
    "check_region",
    "check_templates",
    "choose_variant",
    "closed_days",
    "compile_sequences",
    "compiled_sequences",
    "complete_finished",
    "create",
    "end",
    "end_state",
    "find_campaign",
    "find_number",
    "find_sequence",
    "first_due",
    "forecast",
    "import_leads",
    "is_open",
    "known_number",
    "launch",
    "lead_country",
    "lead_name",
    "lead_page",
    "lead_summaries",
    "lead_timezone",
    "list_campaigns",
    "looks_like_number",
    "missing_variables",
    "moves",
    "next_due",
    "next_open",
    "next_state",
    "normalise_number",
    "parse_start",
    "pause",
    "preview_leads",
    "read_lead_list",
    "region_for_country",
    "rejects_path_for",
    "render_steps",
    "resume",
    "resume_lead",
    "search_leads",
    "start_scheduled",
    "stop",
    "transition",
    "variable_name",
    "zone_for_number",
]
