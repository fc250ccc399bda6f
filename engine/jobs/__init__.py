"""The scheduler's maintenance jobs: phones' states and breakers, deliveries, chats, pruning.

Each job is a function of ``now``, the TimelinesAI client and the database;
:mod:`engine.jobs.runner` puts them on their cron schedules.
"""

from engine.jobs.breaker import BreakerChange, check_breakers
from engine.jobs.delivery_sync import DeliveryReport, apply_statuses, sync_delivery
from engine.jobs.history import HistoryReport, fetch_chat_history
from engine.jobs.housekeeping import prune_webhook_events, sweep_follow_ups
from engine.jobs.phone_sync import PhoneChange, sync_phone_states

__all__ = [
    "BreakerChange",
    "DeliveryReport",
    "HistoryReport",
    "PhoneChange",
    "apply_statuses",
    "check_breakers",
    "fetch_chat_history",
    "prune_webhook_events",
    "sweep_follow_ups",
    "sync_delivery",
    "sync_phone_states",
]
