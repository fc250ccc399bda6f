"""Webhook calls from the simulator to the configured URL, off the API's answer path.

Events are posted in the order they happened by one task on the server's loop,
each with a bounded number of retries, so a slow or absent receiver never delays
an API answer (it delays later events, as a queue of deliveries does). Calls go to
``webhook_url`` only (the engine's receiver on loopback), exactly as configured,
so a ``?secret=...`` is sent when the URL carries one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from engine.clock import Clock
from engine.redact import redact_text
from engine.timelinesai.simulator.config import SimulatorConfig

logger = logging.getLogger("engine.timelinesai.simulator")

# TimelinesAI gives a receiver 5 s to answer.
_RECEIVER_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Delivery:
    """The outcome of posting one event (after its retries)."""

    event_type: str
    body: dict[str, Any]
    attempts: int
    status_code: int | None
    delivered: bool
    finished_at: datetime
    started_at: datetime | None = None
    """When the first attempt was posted: ``finished_at - started_at`` is the receiver's
    answer time when it answered the first attempt."""

    def to_json(self) -> dict[str, Any]:
        """The delivery as JSON-ready data."""
        started = self.started_at.isoformat(timespec="microseconds") if self.started_at else None
        return {
            **asdict(self),
            "finished_at": self.finished_at.isoformat(timespec="microseconds"),
            "started_at": started,
        }


class WebhookSender:
    """Posts events and runs delayed callbacks (leads' replies) on the running loop."""

    def __init__(self, config: Callable[[], SimulatorConfig], clock: Clock) -> None:
        self._config = config
        self._clock = clock
        self._client: httpx.AsyncClient | None = None
        self._queue: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self._timers: set[asyncio.TimerHandle] = set()
        self.deliveries: list[Delivery] = []

    def post(self, body: dict[str, Any]) -> None:
        """Deliver ``body`` to the webhook URL in the background (no URL: nothing to do)."""
        url = self._config().webhook_url
        if url is None:
            return
        self._queue.put_nowait((url, body))
        if self._worker is None or self._worker.done():
            self._worker = asyncio.get_running_loop().create_task(self._work())

    def later(self, virtual_s: float, callback: Callable[[], None]) -> None:
        """Run ``callback`` on the loop after ``virtual_s`` virtual seconds."""

        def run() -> None:
            self._timers.discard(handle)
            callback()

        handle = asyncio.get_running_loop().call_later(self._clock.real_seconds(virtual_s), run)
        self._timers.add(handle)

    def cancel_pending(self) -> None:
        """Drop scheduled callbacks and the deliveries not yet made."""
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        while not self._queue.empty():
            self._queue.get_nowait()

    async def aclose(self) -> None:
        """Cancel everything pending and close the HTTP client."""
        self.cancel_pending()
        if self._worker is not None:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()

    async def _work(self) -> None:
        while True:
            url, body = await self._queue.get()
            await self._deliver(url, body)

    async def _deliver(self, url: str, body: dict[str, Any]) -> None:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=_RECEIVER_TIMEOUT_S)
        config = self._config()
        status_code: int | None = None
        attempts = 0
        started_at = datetime.now(UTC)
        for attempt in range(1 + config.webhook_retries):
            if attempt:
                await asyncio.sleep(self._clock.real_seconds(config.webhook_retry_delay_s))
            attempts += 1
            try:
                response = await self._client.post(url, json=body)
            except httpx.HTTPError as exc:
                status_code = None
                logger.info("webhook %s failed: %s", body["event_type"], redact_text(str(exc)))
                continue
            status_code = response.status_code
            if response.is_success:
                break
        self.deliveries.append(
            Delivery(
                event_type=body["event_type"],
                body=body,
                attempts=attempts,
                status_code=status_code,
                delivered=status_code is not None and 200 <= status_code < 300,
                finished_at=datetime.now(UTC),
                started_at=started_at,
            )
        )
