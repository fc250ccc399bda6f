"""The simulated TimelinesAI service: workspace, faults, request log, leads and webhooks.

All of it lives on the server's event loop; the API routes, the middleware and the
admin routes reach it through one :class:`Simulator`.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import Any

from engine.clock import SystemClock
from engine.timelinesai.simulator.config import AccountStatus, SimulatorConfig
from engine.timelinesai.simulator.faults import FaultInjector
from engine.timelinesai.simulator.payloads import account_event, message_event
from engine.timelinesai.simulator.records import AccountRecord, MessageRecord
from engine.timelinesai.simulator.requestlog import RequestLog
from engine.timelinesai.simulator.webhooks import WebhookSender
from engine.timelinesai.simulator.workspace import Workspace

_STALL_STEP_S = 0.05


def account_event_type(status: AccountStatus, previous: AccountStatus) -> str:
    """The webhook event TimelinesAI sends when an account goes from ``previous`` to ``status``."""
    if status == "banned":
        return "whatsapp:account:suspended"
    if status == "disconnected":
        return "whatsapp:account:disconnected"
    return "whatsapp:account:resumed" if previous == "banned" else "whatsapp:account:connected"


class Simulator:
    """One simulated workspace and everything around it."""

    def __init__(self, config: SimulatorConfig, *, log_file: Path | None = None) -> None:
        self.config = config
        self.clock = SystemClock(config.speed, config.epoch)
        self.rng = random.Random(config.seed)
        self.log = RequestLog(log_file)
        self.faults = FaultInjector(lambda: self.config, self.rng)
        self.webhooks = WebhookSender(lambda: self.config, self.clock)
        self.workspace = Workspace(lambda: self.config, self.clock, self.rng, self)
        # Set when the server stops, so stalled answers end at once.
        self.stopping = False

    def reconfigure(self, changes: Mapping[str, Any]) -> None:
        """Apply runtime changes to faults, statuses, leads and webhooks."""
        self.config = self.config.changed(changes)

    def reset(self) -> None:
        """Start over: fresh workspace, empty log, pending replies dropped, seed re-applied."""
        self.webhooks.cancel_pending()
        self.rng.seed(self.config.seed)
        self.workspace = Workspace(lambda: self.config, self.clock, self.rng, self)
        self.log.clear()
        self.faults.reset()
        self.webhooks.deliveries.clear()

    async def stall(self) -> None:
        """Hold an answer for ``stall_s`` real seconds, or until the server stops."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.stall_s
        while not self.stopping and loop.time() < deadline:
            await asyncio.sleep(_STALL_STEP_S)

    async def aclose(self) -> None:
        """Stop pending replies and webhook calls."""
        self.stopping = True
        await self.webhooks.aclose()

    # Notifier: what TimelinesAI would post to its webhooks ---------------------------

    def message_sent(self, message: MessageRecord) -> None:
        if self.config.sent_events:
            body = message_event("message:sent:new", message, self.workspace, self.config)
            self.webhooks.post(body)
        if message.delivers:  # a lead who never got it cannot answer
            self._maybe_reply(message.chat_id)

    def message_received(self, message: MessageRecord) -> None:
        body = message_event("message:received:new", message, self.workspace, self.config)
        self.webhooks.post(body)

    def account_changed(self, account: AccountRecord, previous: AccountStatus) -> None:
        event_type = account_event_type(account.status, previous)
        self.webhooks.post(account_event(event_type, account, self.config))

    def _maybe_reply(self, chat_id: int) -> None:
        """The lead of ``chat_id`` may answer later; opt-outs are a share of the answers."""
        config = self.config
        if self.rng.random() >= config.reply_probability:
            return
        delay_s = self.rng.uniform(*config.reply_delay_s)
        opt_out = bool(config.opt_out_texts) and self.rng.random() < config.opt_out_probability
        texts = config.opt_out_texts if opt_out else config.reply_texts
        if not texts:
            return
        text = self.rng.choice(texts)
        self.webhooks.later(delay_s, partial(self._reply, chat_id, text))

    def _reply(self, chat_id: int, text: str) -> None:
        self.workspace.receive(chat_id, text)
