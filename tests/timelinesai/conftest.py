"""Fixtures for the TimelinesAI client and simulator tests.

``fake_api`` scripts answers for a client on ``httpx.MockTransport``; ``start_simulator``
serves real simulators on loopback; ``webhook_receiver`` collects what they post.
"""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from engine.timelinesai import SimulatorConfig, SimulatorHandle, TimelinesAIClient
from engine.timelinesai.simulator import running_simulator

TOKEN = "tok_secret_123"
BASE_URL = "https://app.test/integrations/api"

Answer = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


def ok(data: Any) -> httpx.Response:
    """TimelinesAI's success answer around ``data``."""
    return httpx.Response(200, json={"status": "ok", "data": data})


def fail(status: int, message: str | None = None) -> httpx.Response:
    """TimelinesAI's error answer (no body when ``message`` is None)."""
    if message is None:
        return httpx.Response(status)
    return httpx.Response(status, json={"status": "error", "message": message})


class FakeApi:
    """A scripted TimelinesAI: gives queued answers in order and records every request."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self._answers: list[Answer] = []
        self._lock = threading.Lock()

    def answer(self, *answers: Answer) -> None:
        self._answers.extend(answers)

    def ok(self, data: Any) -> None:
        self.answer(ok(data))

    def handle(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self.requests.append(request)
            if not self._answers:
                raise AssertionError(f"unexpected request {request.method} {request.url}")
            answer = self._answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        if callable(answer):
            return answer(request)
        return answer

    @property
    def last(self) -> httpx.Request:
        return self.requests[-1]

    def last_json(self) -> Any:
        return json.loads(self.last.content)


@pytest.fixture
def fake_api() -> FakeApi:
    return FakeApi()


@pytest.fixture
def make_client(fake_api: FakeApi) -> Iterator[Callable[..., TimelinesAIClient]]:
    """Clients of ``fake_api`` with fast backoff; each is closed after the test."""
    clients: list[TimelinesAIClient] = []

    def make(**options: Any) -> TimelinesAIClient:
        settings: dict[str, Any] = {
            "transport": httpx.MockTransport(fake_api.handle),
            "retry_total_s": 2.0,
            "backoff_initial_s": 0.001,
            "backoff_max_s": 0.01,
        }
        settings.update(options)
        client = TimelinesAIClient(BASE_URL, TOKEN, **settings)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def client(make_client: Callable[..., TimelinesAIClient]) -> TimelinesAIClient:
    return make_client()


@pytest.fixture
def start_simulator() -> Iterator[Callable[..., SimulatorHandle]]:
    """Start simulators (``SimulatorConfig`` fields as keywords); all stop after the test."""
    with ExitStack() as stack:

        def start(log_file: Path | None = None, **fields: Any) -> SimulatorHandle:
            fields.setdefault("token", TOKEN)
            fields.setdefault("seed", 7)
            config = SimulatorConfig(**fields)
            return stack.enter_context(running_simulator(config, log_file=log_file))

        yield start


@pytest.fixture
def sim_client() -> Iterator[Callable[..., TimelinesAIClient]]:
    """Clients of a simulator (fast backoff); each is closed after the test."""
    with ExitStack() as stack:

        def make(sim: SimulatorHandle, **options: Any) -> TimelinesAIClient:
            settings: dict[str, Any] = {"backoff_initial_s": 0.005, "backoff_max_s": 0.05}
            settings.update(options)
            return stack.enter_context(sim.client(**settings))

        yield make


class WebhookReceiver:
    """A loopback HTTP server that keeps every JSON body posted to it."""

    def __init__(self) -> None:
        self.status_code = 200
        self._events: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                receiver._events.put((self.path, json.loads(self.rfile.read(length))))
                self.send_response(receiver.status_code)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                """Quiet: the default writes every request to stderr."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,))
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/hooks/timelinesai"

    def wait_for(self, count: int, timeout_s: float = 5.0) -> list[tuple[str, dict[str, Any]]]:
        """The next ``count`` posts as (path with query, body); fails after ``timeout_s``."""
        return [self._events.get(timeout=timeout_s) for _ in range(count)]

    def pending(self) -> int:
        return self._events.qsize()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


@pytest.fixture
def webhook_receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    yield receiver
    receiver.close()
