"""The simulator's configuration: accounts, faults, message statuses, leads and webhooks.

Frozen and validated on construction; loadable from a TOML or JSON file whose
keys are the field names (accounts as ``[[accounts]]`` tables). Durations named
``_s`` are virtual seconds of the simulator's clock (``speed``), except
``stall_s`` and ``latency_ms``, which are real.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    model_validator,
)
from pydantic.dataclasses import dataclass

from engine.errors import ConfigError


def digits_of(phone: str) -> str:
    """The digits of a phone number: how the simulator matches numbers written either way."""
    return re.sub(r"\D", "", phone)


AccountStatus = Literal["active", "disconnected", "banned"]
Probability = Annotated[float, Field(ge=0.0, le=1.0)]
Seconds = Annotated[float, Field(ge=0.0)]


def _as_range(value: object) -> object:
    """A single number means a fixed value: ``50`` is ``(50, 50)``."""
    return (value, value) if isinstance(value, int | float) else value


Range = Annotated[tuple[Seconds, Seconds], BeforeValidator(_as_range)]

_STRICT = ConfigDict(extra="forbid")
# Settings fixed for the simulator's lifetime: they shape state, not answers.
_FIXED_AT_START = frozenset({"accounts", "speed", "epoch", "seed"})


@dataclass(frozen=True, config=_STRICT)
class SimAccount:
    """One simulated WhatsApp number of the workspace.

    ``jid`` defaults to ``<digits>@s.whatsapp.net``. After ``ban_after_sends`` (or
    ``disconnect_after_sends``) accepted sends the account turns banned (disconnected).
    """

    phone: str
    jid: str | None = None
    status: AccountStatus = "active"
    name: str | None = None
    ban_after_sends: Annotated[int, Field(ge=1)] | None = None
    disconnect_after_sends: Annotated[int, Field(ge=1)] | None = None

    @property
    def account_id(self) -> str:
        """The account's JID, as TimelinesAI names it."""
        return self.jid or digits_of(self.phone) + "@s.whatsapp.net"


DEFAULT_ACCOUNTS = (
    SimAccount(phone="+15550100001"),
    SimAccount(phone="+15550100002"),
    SimAccount(phone="+15550100003"),
)


@dataclass(frozen=True, config=_STRICT)
class SimulatorConfig:
    """Everything the simulator does; see the README's simulator section for each field."""

    accounts: tuple[SimAccount, ...] = DEFAULT_ACCOUNTS
    token: str | None = None
    speed: Annotated[float, Field(gt=0.0)] = 1.0
    epoch: datetime | None = None
    seed: int | None = None
    # Answers (real time)
    latency_ms: Range = (0.0, 0.0)
    error_rate: Probability = 0.0
    rate_limit_per_minute: Annotated[int, Field(ge=0)] = 0
    burst_429_every: Annotated[int, Field(ge=0)] = 0
    burst_429_length: Annotated[int, Field(ge=0)] = 0
    timeout_after_record_rate: Probability = 0.0
    timeout_mode: Literal["stall", "drop"] = "stall"
    stall_s: Seconds = 30.0
    invalid_recipient_pattern: str | None = None
    max_upload_bytes: Annotated[int, Field(ge=1)] = 16 * 1024 * 1024
    # The workspace's messages a calendar month (UTC), as GET /workspace/quotas reports them.
    messages_per_month: Annotated[int, Field(ge=0)] = 100_000
    # Message statuses (virtual seconds after the send)
    sent_after_s: Seconds = 2.0
    delivered_after_s: Seconds = 5.0
    read_after_s: Seconds = 60.0
    read_receipt_rate: Probability = 1.0
    # Recipients (a regex on the number) whose messages are accepted but never delivered:
    # they stay "sent" and the lead never answers (a phone that is off, or blocks us).
    undelivered_recipient_pattern: str | None = None
    status_case: Literal["lower", "upper", "title"] = "lower"
    utc_offset_minutes: Annotated[int, Field(ge=-720, le=840)] = 0
    # Leads and webhooks
    webhook_url: str | None = None
    payload_form: Literal["nested", "flat"] = "nested"
    sent_events: bool = True
    reply_probability: Probability = 0.0
    reply_delay_s: Range = (30.0, 300.0)
    reply_texts: tuple[str, ...] = ("Thanks, tell me more", "Who is this?", "Sounds good")
    opt_out_probability: Probability = 0.0
    opt_out_texts: tuple[str, ...] = ("STOP", "Please unsubscribe me")
    webhook_retries: Annotated[int, Field(ge=0)] = 2
    webhook_retry_delay_s: Seconds = 5.0

    @model_validator(mode="after")
    def _consistent(self) -> SimulatorConfig:
        if not self.sent_after_s <= self.delivered_after_s <= self.read_after_s:
            raise ValueError("need sent_after_s <= delivered_after_s <= read_after_s")
        for name in ("latency_ms", "reply_delay_s"):
            low, high = getattr(self, name)
            if low > high:
                raise ValueError(f"{name}: the low end exceeds the high end")
        phones = [account.phone for account in self.accounts]
        if len(set(phones)) != len(phones):
            raise ValueError("an account phone is listed twice")
        for name in ("invalid_recipient_pattern", "undelivered_recipient_pattern"):
            pattern = getattr(self, name)
            if pattern is None:
                continue
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"{name} is not a regex: {exc}") from None
        if self.webhook_url is not None and not self.webhook_url.startswith(
            ("http://", "https://")
        ):
            raise ValueError("webhook_url must be an http(s) URL")
        return self

    def changed(self, changes: Mapping[str, Any]) -> SimulatorConfig:
        """A copy with ``changes`` applied; ``ConfigError`` for a setting fixed at start."""
        fixed = _FIXED_AT_START & changes.keys()
        if fixed:
            raise ConfigError(f"fixed while the simulator runs: {', '.join(sorted(fixed))}")
        return config_from_mapping({**asdict(self), **changes})

    def to_json(self) -> dict[str, Any]:
        """The configuration as JSON-ready data."""
        data: dict[str, Any] = _ADAPTER.dump_python(self, mode="json")
        data.pop("token", None)
        return data


_ADAPTER = TypeAdapter(SimulatorConfig)


def config_from_mapping(data: Mapping[str, Any], *, source: str = "settings") -> SimulatorConfig:
    """Validate ``data`` (as read from a file or the command line) into a config."""
    try:
        return _ADAPTER.validate_python(dict(data))
    except ValidationError as error:
        raise ConfigError(_describe(error), path=source) from None


def load_config(path: Path, overrides: Mapping[str, Any] | None = None) -> SimulatorConfig:
    """Read a ``.toml`` or ``.json`` config file, then apply ``overrides`` on top."""
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (OSError, ValueError) as error:
        raise ConfigError(f"cannot read the simulator config: {error}", path=str(path)) from None
    if not isinstance(data, dict):
        raise ConfigError("the simulator config must be a table of settings", path=str(path))
    return config_from_mapping({**data, **(overrides or {})}, source=str(path))


def _describe(error: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(part) for part in problem['loc']) or 'config'}: {problem['msg']}"
        for problem in error.errors()
    )
