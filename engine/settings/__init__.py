"""Typed, frozen settings: the TOML config file plus a few environment overrides.

At the bottom of the engine with the models, errors, clock and database: the settings
import nothing above them. :mod:`~engine.settings.sections` holds the tables,
:mod:`~engine.settings.sequences` and :mod:`~engine.settings.replies` the raw
``[sequences.*]`` and ``[replies]`` tables, :mod:`~engine.settings.loading` reads and
checks a file. The sequences package compiles (and so checks) the templates
(:func:`sequences.definition.check_templates`), where the CLI loads the config.
"""

from engine.settings.loading import (
    DEFAULT_CONFIG_NAME,
    find_config,
    load_settings,
    resolve_database_url,
    validate,
)
from engine.settings.phone_ids import (
    PHONE_ID_MAX_CHARS,
    phone_id_problem,
    phone_order,
    sorted_phone_ids,
)
from engine.settings.replies import IntentRule, RepliesSettings
from engine.settings.sections import (
    AlertSettings,
    BreakerSettings,
    ClockSettings,
    ConsoleSettings,
    DatabaseSettings,
    HealthSettings,
    PacingSettings,
    PhoneSettings,
    QuotaSettings,
    RedisSettings,
    SchedulerSettings,
    Settings,
    TelemetrySettings,
    TextsSettings,
    TimelinesAISettings,
    WebhookSettings,
    WorkerSettings,
    WorkspaceSettings,
)
from engine.settings.sequences import (
    LeadsSettings,
    SequenceSettings,
    StepSettings,
    WindowSettings,
)
from engine.settings.services import (
    require_phones,
    require_sending,
    require_shared_clock,
    require_token,
)

__all__ = [
    "DEFAULT_CONFIG_NAME",
    "PHONE_ID_MAX_CHARS",
    "AlertSettings",
    "BreakerSettings",
    "ClockSettings",
    "ConsoleSettings",
    "DatabaseSettings",
    "HealthSettings",
    "IntentRule",
    "LeadsSettings",
    "PacingSettings",
    "PhoneSettings",
    "QuotaSettings",
    "RedisSettings",
    "RepliesSettings",
    "SchedulerSettings",
    "SequenceSettings",
    "Settings",
    "StepSettings",
    "TelemetrySettings",
    "TextsSettings",
    "TimelinesAISettings",
    "WebhookSettings",
    "WindowSettings",
    "WorkerSettings",
    "WorkspaceSettings",
    "find_config",
    "load_settings",
    "phone_id_problem",
    "phone_order",
    "require_phones",
    "require_sending",
    "require_shared_clock",
    "require_token",
    "resolve_database_url",
    "sorted_phone_ids",
    "validate",
]
