"""The request path around every simulated API call: log, latency, faults, auth, timeouts.

Order per request: log its arrival, wait the latency, then answer 429 (burst or
rate limit), 401 (token) or 500 (error rate) instead of handling it; otherwise
handle it, and for a send drawn for a timeout, record the message and then stall
the answer or drop the connection.
"""

from __future__ import annotations

import asyncio
import hmac
import json
from datetime import UTC, datetime
from typing import Any

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from engine.timelinesai.simulator.core import Simulator
from engine.timelinesai.simulator.faults import Fault
from engine.timelinesai.simulator.payloads import error
from engine.timelinesai.simulator.requestlog import LoggedRequest, is_send

API_PREFIX = "/integrations/api"
ENTRY_KEY = "sim_entry"


class SimulatorMiddleware:
    """Wraps the API routes; admin routes (``/_sim``) pass straight through."""

    def __init__(self, app: ASGIApp, simulator: Simulator) -> None:
        self.app = app
        self.simulator = simulator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(API_PREFIX + "/"):
            await self.app(scope, receive, send)
            return
        sim = self.simulator
        method, path = scope["method"], scope["path"][len(API_PREFIX) :]
        entry = sim.log.begin(method, path, scope["query_string"].decode("latin-1"))
        body = await _read_body(receive)
        _note_body(entry, body)
        scope.setdefault("state", {})[ENTRY_KEY] = entry
        replay = _replay(body, receive)

        await asyncio.sleep(sim.faults.latency_s())
        fault = sim.faults.rate_limited() or self._unauthorized(scope) or sim.faults.server_error()
        if fault is not None:
            entry.fault = fault.name
            response = JSONResponse(error(fault.message), status_code=fault.status_code)
            await response(scope, replay, _recording(send, sim, entry))
        elif is_send(method, path) and sim.faults.times_out_after_record():
            await self._answer_late(scope, replay, send, entry)
        else:
            await self.app(scope, replay, _recording(send, sim, entry))

    def _unauthorized(self, scope: Scope) -> Fault | None:
        token = self.simulator.config.token
        if token is None:
            return None
        headers = dict(scope["headers"])
        given = headers.get(b"authorization", b"").decode("latin-1")
        if hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            return None
        return Fault(401, "Invalid or expired token", "bad_token")

    async def _answer_late(
        self, scope: Scope, receive: Receive, send: Send, entry: LoggedRequest
    ) -> None:
        """Handle (and so record) the send, then stall the answer or drop the connection."""
        answer: list[Message] = []

        async def hold(message: Message) -> None:
            answer.append(message)

        await self.app(scope, receive, hold)
        status = int(answer[0]["status"]) if answer else 500
        sim = self.simulator
        if not 200 <= status < 300:
            await _replay_answer(answer, _recording(send, sim, entry))
            return
        entry.fault = f"timeout_after_record:{sim.config.timeout_mode}"
        if sim.config.timeout_mode == "stall":
            await sim.stall()
            await _replay_answer(answer, _recording(send, sim, entry))
            return
        # Start the answer, then return without its body: the server closes the
        # connection mid-answer, which the client sees as a broken-off exchange.
        await send(answer[0])
        sim.log.finish(entry, None)


def _recording(send: Send, sim: Simulator, entry: LoggedRequest) -> Send:
    """``send`` that logs the answer's status once its last byte has gone.

    The answer's time is read just before that byte goes, not after: the client cannot
    have the answer earlier, so a gap measured from that time to the client's next
    request is never shorter than the wait the client made. Read after, it could be late
    by however long this thread then waited for the CPU (or the GIL, in a test process),
    and a correctly paced next send would look too early.
    """
    status: list[int] = []

    async def recording_send(message: Message) -> None:
        if message["type"] == "http.response.start":
            status.append(int(message["status"]))
        last = message["type"] == "http.response.body" and not message.get("more_body", False)
        answered_at = datetime.now(UTC) if last else None
        await send(message)
        if answered_at is not None:
            sim.log.finish(entry, status[0] if status else None, answered_at)

    return recording_send


async def _replay_answer(answer: list[Message], send: Send) -> None:
    for message in answer:
        await send(message)


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives the already-read body once, then defers to the server."""
    given = False

    async def replay() -> Message:
        nonlocal given
        if given:
            return await receive()
        given = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


def _note_body(entry: LoggedRequest, body: bytes) -> None:
    """Fill the log entry from a JSON body, so even refused sends show who and what."""
    try:
        data: Any = json.loads(body) if body else None
    except ValueError:
        return
    if not isinstance(data, dict):
        return
    for field, key in (("account_phone", "whatsapp_account_phone"), ("recipient_phone", "phone")):
        if isinstance(data.get(key), str):
            setattr(entry, field, data[key])
    if isinstance(data.get("text"), str):
        entry.text = data["text"]
