"""The demo's plan and files: config.toml for the engine, sim.json for the simulator.

Both run the same clock (``speed`` and a shared ``epoch``), so a virtual day of
quota lasts ``86400 / speed`` real seconds and a 30 s pacing gap a few milliseconds.
"""

from __future__ import annotations

import json
import secrets
import socket
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

PHONES = tuple(f"+4477009001{i:02d}" for i in range(1, 6))
OFFLINE_PHONE = PHONES[2]
SEQUENCE = "demo"
JITTER_S = (30.0, 120.0)


@dataclass(frozen=True)
class DemoPlan:
    """Everything one demo run is made of, decided up front."""

    folder: Path
    leads: int
    speed: float
    redis_url: str
    epoch: datetime
    webhook_port: int
    simulator_port: int
    namespace: str
    secret: str = field(repr=False)
    quota_per_day: int
    seed: int

    @property
    def config_path(self) -> Path:
        return self.folder / "config.toml"

    @property
    def sim_config_path(self) -> Path:
        return self.folder / "sim.json"

    @property
    def simulator_url(self) -> str:
        return f"http://127.0.0.1:{self.simulator_port}"

    def real_s(self, virtual_s: float) -> float:
        """Real seconds of a virtual duration at this plan's speed."""
        return virtual_s / self.speed


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def plan_demo(
    folder: Path, *, leads: int, speed: float, redis_url: str, epoch: datetime, seed: int
) -> DemoPlan:
    """A plan with free ports, a fresh namespace and a quota that spreads the leads over
    about two virtual days (so the quota is felt and a day boundary is crossed)."""
    quota = max(2, -(-leads // (2 * len(PHONES))))
    return DemoPlan(
        folder=folder.resolve(), leads=leads, speed=speed, redis_url=redis_url, epoch=epoch,
        webhook_port=free_port(), simulator_port=free_port(),
        namespace=f"demo{secrets.token_hex(4)}", secret=secrets.token_hex(16),
        quota_per_day=quota, seed=seed,
    )  # fmt: skip


def write_files(plan: DemoPlan, invalid_number: str) -> None:
    """Write config.toml and sim.json (``invalid_number`` is not on WhatsApp)."""
    plan.folder.mkdir(parents=True, exist_ok=True)
    plan.config_path.write_text(engine_config(plan), encoding="utf-8")
    plan.sim_config_path.write_text(
        json.dumps(simulator_config(plan, invalid_number), indent=2), encoding="utf-8"
    )


def _real(plan: DemoPlan, seconds: float) -> float:
    """Virtual seconds lasting ``seconds`` real ones (for settings given in virtual time)."""
    return round(seconds * plan.speed, 1)


def engine_config(plan: DemoPlan) -> str:
    """The engine's config: production settings except the clock, pacing and quota."""
    phones = "\n".join(
        f'[[phones]]\nid = "{i:02d}"\nphone = "{p}"' for i, p in enumerate(PHONES, 1)
    )
    epoch = plan.epoch.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return f"""# Written by `outreach demo`; the real thing is the same code with speed = 1.
[database]
url = "sqlite:///outreach.db"
[redis]
url = "{plan.redis_url}"
namespace = "{plan.namespace}"
[timelinesai]
base_url = "{plan.simulator_url}/integrations/api"
requests_per_minute = 1000000
timeout_s = 5
[pacing]
jitter_min_s = {JITTER_S[0]}
jitter_max_s = {JITTER_S[1]}
[quota]
new_contacts_per_day = {plan.quota_per_day}
timezone = "UTC"
warmup = []
[worker]
lease_ttl_s = 5
send_time_limit_s = 3
reconcile_after_s = {_real(plan, 10)}
processes = 2
threads = 2
[breaker]
check_cron = "*/15 * * * *"
[scheduler]
workspace_quota_cron = "0 * * * *"
dispatch_interval_s = {_real(plan, 0.3)}
queue_ahead_s = {_real(plan, 0.6)}
max_queued_per_phone = 3
requeue_after_s = {_real(plan, 10)}
phone_sync_cron = "0 * * * *"
delivery_sync_cron = "0 */6 * * *"
replies_sweep_cron = "30 * * * *"
[webhook]
port = {plan.webhook_port}
[clock]
speed = {plan.speed}
epoch = {epoch}
{phones}
[sequences.{SEQUENCE}]
# runs on whatever day it is run: public holidays do not close the window
skip_holidays = false
# its leads share companies: a reply holds nobody else here (the default pauses them)
on_company_reply = "continue"
timezone = "UTC"
[[sequences.{SEQUENCE}.steps]]
after = "0m"
template = "{{Hi|Hello}} {{{{name}}}}, a quick question for {{{{company|you}}}} [s0]"
[[sequences.{SEQUENCE}.steps]]
after = "6h"
template = "Any thoughts, {{{{name}}}}? [s1]"
[[sequences.{SEQUENCE}.steps]]
after = "1d"
template = "Last note from me, {{{{name}}}} [s2]"
"""


def simulator_config(plan: DemoPlan, invalid_number: str) -> dict[str, object]:
    """The simulator's settings: the same accounts and clock, replies, one invalid number."""
    return {
        "accounts": [{"phone": phone} for phone in PHONES],
        "speed": plan.speed,
        "epoch": plan.epoch.isoformat(),
        "seed": plan.seed,
        "webhook_url": (
            f"http://127.0.0.1:{plan.webhook_port}/webhooks/timelinesai?secret={plan.secret}"
        ),
        "sent_events": False,
        "reply_probability": 0.12,
        "reply_delay_s": [600.0, 4 * 3600.0],
        "opt_out_probability": 0.0,
        "webhook_retries": 1,
        "invalid_recipient_pattern": "^\\+?" + invalid_number.lstrip("+") + "$",
    }
