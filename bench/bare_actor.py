"""The baseline for bench/send_pipeline.py: a bare Dramatiq actor that only makes the POST.

Run by ``dramatiq bench.bare_actor`` with BENCH_REDIS_URL, BENCH_NAMESPACE and
BENCH_SIM_URL set; one actor per phone queue, each sending ``POST /messages``.
"""

from __future__ import annotations

import os

import dramatiq
import httpx
from dramatiq.brokers.redis import RedisBroker

broker = RedisBroker(url=os.environ["BENCH_REDIS_URL"], namespace=os.environ["BENCH_NAMESPACE"])
dramatiq.set_broker(broker)
_client = httpx.Client(
    base_url=os.environ["BENCH_SIM_URL"],
    headers={"Authorization": "Bearer bench", "User-Agent": "outreach-bench/1"},
    timeout=15.0,
)


def _send(phone: str, text: str, from_phone: str) -> None:
    response = _client.post(
        "/messages", json={"phone": phone, "whatsapp_account_phone": from_phone, "text": text}
    )
    response.raise_for_status()


ACTORS = {
    f"phone_{i:02d}": dramatiq.actor(_send, actor_name=f"bare_{i:02d}", queue_name=f"phone_{i:02d}")
    for i in range(1, int(os.environ.get("BENCH_PHONES", "20")) + 1)
}
