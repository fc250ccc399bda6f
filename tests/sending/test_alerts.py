"""Alerts reach the table, the log and, when configured, a Slack-compatible webhook."""

from __future__ import annotations

import json

import httpx
import pytest

from engine.alerts import WebhookAlerts
from tests.sending.conftest import Harness


class Recording:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str, str | None]] = []

    def notify(self, kind: str, message: str, *, severity: str, phone_id: str | None) -> None:
        self.calls.append((kind, message, severity, phone_id))


def test_the_webhook_gets_a_slack_compatible_text() -> None:
    bodies: list[dict[str, object]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        return httpx.Response(200)

    sink = WebhookAlerts("https://chat.example/hook", transport=httpx.MockTransport(handler))
    sink.notify("phone_banned", "phone 03 is banned", severity="critical", phone_id="03")
    sink.close()
    assert bodies == [
        {
            "text": "[outreach] critical: phone 03 is banned",
            "kind": "phone_banned",
            "severity": "critical",
            "phone_id": "03",
        }
    ]


def test_a_failing_webhook_never_raises(caplog: pytest.LogCaptureFixture) -> None:
    sink = WebhookAlerts(
        "https://chat.example/hook", transport=httpx.MockTransport(lambda _: httpx.Response(500))
    )
    sink.notify("bad_token", "token refused", severity="critical", phone_id=None)
    sink.close()
    assert "not delivered" in caplog.text


def test_a_banned_phone_is_announced_once(harness: Harness) -> None:
    sink = Recording()
    harness.sender.transitions.alerts = sink
    harness.sim.set_account_status("+447700900001", "banned")
    first = harness.enroll()
    second = harness.enroll("+40712345679")
    harness.send(first, 0, "01")
    harness.send(second, 0, "01")  # meets the phone already down: no second alert
    assert [call[0] for call in sink.calls] == ["phone_banned"]
    assert sink.calls[0][3] == "01"
