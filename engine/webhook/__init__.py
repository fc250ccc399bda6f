"""The webhook receiver: TimelinesAI's events in, committed and answered at once.

:func:`create_app` builds the FastAPI app; :mod:`engine.webhook.payloads` parses both
payload layouts; :class:`EventHandler` applies events to the database, idempotently.
"""

from typing import TYPE_CHECKING, Any

from engine.webhook.errors import BadBodyError, PayloadError, WebhookError
from engine.webhook.handlers import EventHandler, Outcome
from engine.webhook.payloads import (
    HANDLED_EVENT_TYPES,
    AccountEvent,
    MessageEvent,
    OtherEvent,
    parse_body,
    parse_event,
)

if TYPE_CHECKING:
    from engine.webhook.app import MAX_BODY_BYTES, WEBHOOK_PATH, create_app

_APP_NAMES = frozenset({"MAX_BODY_BYTES", "WEBHOOK_PATH", "create_app"})


def __getattr__(name: str) -> Any:
    # The app pulls in FastAPI (about 0.2 s): the scheduler and the CLI's other
    # commands use the handler and the parser without paying for it.
    if name in _APP_NAMES:
        from engine.webhook import app

        return getattr(app, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "HANDLED_EVENT_TYPES",
    "MAX_BODY_BYTES",
    "WEBHOOK_PATH",
    "AccountEvent",
    "BadBodyError",
    "EventHandler",
    "MessageEvent",
    "OtherEvent",
    "Outcome",
    "PayloadError",
    "WebhookError",
    "create_app",
    "parse_body",
    "parse_event",
]
