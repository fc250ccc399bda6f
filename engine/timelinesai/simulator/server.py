"""Running the simulator: in the foreground (the CLI) or in a thread of a test process."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from engine.redact import RedactingFilter
from engine.timelinesai.client import TimelinesAIClient
from engine.timelinesai.simulator.app import create_app
from engine.timelinesai.simulator.config import AccountStatus, SimulatorConfig
from engine.timelinesai.simulator.core import Simulator
from engine.timelinesai.simulator.middleware import API_PREFIX
from engine.timelinesai.simulator.requestlog import LOGGED_REQUESTS, LoggedRequest

# Stalled answers end when the server stops; this bounds anything else still open.
_GRACEFUL_SHUTDOWN_S = 2


def serve(
    config: SimulatorConfig,
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    log_file: Path | None = None,
) -> None:
    """Serve the simulator until interrupted."""
    server_config = uvicorn.Config(
        create_app(config, log_file=log_file),
        host=host,
        port=port,
        log_level="info",
        timeout_graceful_shutdown=_GRACEFUL_SHUTDOWN_S,
    )
    # Added after uvicorn configured its logging: access lines carry query strings,
    # and a query can hold a phone number.
    logging.getLogger("uvicorn.access").addFilter(RedactingFilter())
    uvicorn.Server(server_config).run()


class SimulatorHandle:
    """A running simulator as a test sees it: URLs, a client, and the admin endpoints."""

    def __init__(self, root_url: str, token: str | None) -> None:
        self.root_url = root_url
        self.base_url = root_url + API_PREFIX
        self.token = token
        self._admin = httpx.Client(base_url=root_url + "/_sim", timeout=10.0)

    def close(self) -> None:
        """Close the admin connection."""
        self._admin.close()

    def client(self, **options: Any) -> TimelinesAIClient:
        """A client of this simulator (with its token); ``options`` go to the constructor."""
        return TimelinesAIClient(self.base_url, self.token or "simulator-token", **options)

    def requests(self, since: int = 0) -> list[LoggedRequest]:
        """The request log, entries after ``since``."""
        return LOGGED_REQUESTS.validate_python(self._call("GET", "/requests", since=since))

    def sends(self) -> list[LoggedRequest]:
        """The log's sends (``POST /messages``, ``/messages/to_jid``, ``/chats/{id}/messages``)."""
        return [entry for entry in self.requests() if entry.is_send]

    def deliveries(self) -> list[dict[str, Any]]:
        """Webhook deliveries finished so far, with their bodies and outcome."""
        result: list[dict[str, Any]] = self._call("GET", "/webhooks")
        return result

    def configure(self, **changes: Any) -> dict[str, Any]:
        """Change settings while running (faults, statuses, leads, webhooks)."""
        result: dict[str, Any] = self._call("POST", "/config", json=changes)
        return result

    def reset(self) -> None:
        """Start over with a fresh workspace and an empty log."""
        self._call("POST", "/reset")

    def set_account_status(self, phone: str, status: AccountStatus) -> dict[str, Any]:
        """Connect, disconnect or ban one of the workspace's numbers (fires its webhook)."""
        result: dict[str, Any] = self._call(
            "POST", f"/accounts/{phone}/status", json={"status": status}
        )
        return result

    def inbound(
        self,
        text: str,
        *,
        chat_id: int | None = None,
        phone: str | None = None,
        account_phone: str | None = None,
    ) -> dict[str, Any]:
        """A lead writes ``text`` now (fires ``message:received:new``)."""
        body = {"text": text, "chat_id": chat_id, "phone": phone, "account_phone": account_phone}
        result: dict[str, Any] = self._call("POST", "/inbound", json=body)
        return result

    def _call(self, method: str, path: str, *, json: Any = None, **params: Any) -> Any:
        response = self._admin.request(method, path, json=json, params=params or None)
        response.raise_for_status()
        return response.json()


@contextmanager
def running_simulator(
    config: SimulatorConfig | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    log_file: Path | None = None,
    startup_timeout_s: float = 10.0,
) -> Iterator[SimulatorHandle]:
    """Serve a simulator from a background thread (on a free port by default) while inside."""
    config = config or SimulatorConfig()
    app = create_app(config, log_file=log_file)
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=_GRACEFUL_SHUTDOWN_S)
    )
    # IPPROTO_TCP explicitly: asyncio turns Nagle off only on sockets that say TCP.
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listener.bind((host, port))
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [listener]}, name="timelinesai-simulator"
    )
    thread.start()
    handle = SimulatorHandle(f"http://{host}:{listener.getsockname()[1]}", config.token)
    try:
        _wait_started(server, thread, startup_timeout_s)
        yield handle
    finally:
        simulator = app.state.simulator
        if isinstance(simulator, Simulator):
            simulator.stopping = True
        server.should_exit = True
        thread.join()
        handle.close()
        listener.close()


def _wait_started(server: uvicorn.Server, thread: threading.Thread, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the TimelinesAI simulator did not start")
        time.sleep(0.01)
