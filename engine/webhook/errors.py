"""The webhook receiver's errors: each one is an answer TimelinesAI gets, never a 5xx."""

from __future__ import annotations

from engine.errors import OutreachError


class WebhookError(OutreachError):
    """Raised when a webhook delivery cannot be taken as it is; ``status_code`` is the answer."""

    status_code = 400


class BadBodyError(WebhookError):
    """Raised when the body is not a JSON object (answered 400)."""

    status_code = 400


class PayloadError(WebhookError):
    """Raised when a known event type's body is malformed (answered 422 with the reason)."""

    status_code = 422
