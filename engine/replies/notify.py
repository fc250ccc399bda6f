"""JSON notifications of classified replies to the URLs configured per rule.

A notification is sent at most once (after the classification is committed); a
failing URL is logged and never fails or retries the classification.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

import httpx

log = logging.getLogger("outreach.replies")


class Notifier(Protocol):
    """Where a rule's notification goes."""

    def post(self, url: str, body: dict[str, Any]) -> bool:
        """POST ``body`` as JSON to ``url``; ``True`` when it was accepted. Never raises."""
        ...


class HttpNotifier:
    """Posts with httpx; ``transport`` swaps the network out in tests."""

    def __init__(
        self, *, timeout_s: float = 5.0, transport: httpx.BaseTransport | None = None
    ) -> None:
        self._client = httpx.Client(
            timeout=timeout_s, transport=transport, headers={"User-Agent": "outreach-replies"}
        )

    def post(self, url: str, body: dict[str, Any]) -> bool:
        try:
            self._client.post(url, json=body).raise_for_status()
        except httpx.HTTPError as error:
            log.warning("reply notification to %s failed: %s", httpx.URL(url).host, error)
            return False
        return True

    def close(self) -> None:
        self._client.close()
