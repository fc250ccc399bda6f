"""Alerts: recorded in the database and the log, and posted to a chat when configured.

``[alerts] webhook_url`` receives a JSON POST with a Slack-compatible ``text`` field
(Slack, Mattermost, Rocket.Chat and most chat tools accept it). A failing post is
logged and never blocks or fails a send.
"""

from __future__ import annotations

import logging
from typing import Protocol

import httpx

log = logging.getLogger("outreach.alerts")


class AlertSink(Protocol):
    """Where an operator hears of an alert beyond the alerts table."""

    def notify(self, kind: str, message: str, *, severity: str, phone_id: str | None) -> None:
        """Tell someone; never raise."""
        ...


class NoAlerts:
    """Alerts go only to the table and the log."""

    def notify(self, kind: str, message: str, *, severity: str, phone_id: str | None) -> None:
        return None


class WebhookAlerts:
    """Posts ``{"text": ..., "kind": ..., "severity": ..., "phone_id": ...}`` to a URL."""

    def __init__(
        self, url: str, *, timeout_s: float = 5.0, transport: httpx.BaseTransport | None = None
    ) -> None:
        self._url = url
        self._client = httpx.Client(timeout=timeout_s, transport=transport)

    def notify(self, kind: str, message: str, *, severity: str, phone_id: str | None) -> None:
        body = {
            "text": f"[outreach] {severity}: {message}",
            "kind": kind,
            "severity": severity,
            "phone_id": phone_id,
        }
        try:
            self._client.post(self._url, json=body).raise_for_status()
        except httpx.HTTPError as error:
            log.warning("alert %s not delivered to the alerts webhook: %s", kind, error)

    def close(self) -> None:
        self._client.close()
