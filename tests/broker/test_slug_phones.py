"""Slug phone ids through the broker: queue and actor names for a thousand phones (no
Redis), and one slug phone's messages fetched with its lease and sent (real Redis)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import replace

import dramatiq
import pytest
import redis
from dramatiq.brokers.stub import StubBroker

from engine.broker import PhoneBroker, build_broker, declare_actors
from engine.broker.queues import FIRST, FOLLOWUP, all_queues, queue_name
from engine.settings import PhoneSettings, RedisSettings, Settings
from phones.lease import lease_key
from tests.conftest import REDIS_URL

THOUSAND = tuple(
    PhoneSettings(f"site-{n}_x" if n % 2 else f"P{n}", f"+4477009{n:05d}") for n in range(1000)
)


def _unused(*_args: object) -> None:
    raise AssertionError("not sent in this test")


def test_a_thousand_slug_phones_get_distinct_queues_and_actors_dramatiq_accepts() -> None:
    settings = replace(Settings(), phones=THOUSAND)
    broker = build_broker(settings)  # connects to Redis only when used
    declared = declare_actors(broker, settings, _unused, _unused)
    assert len(declared.actors) == 2000 and len(declared.answers) == 1000
    assert isinstance(broker, PhoneBroker)
    assert broker.phone_queues[queue_name("site-1_x", FOLLOWUP)] == "site-1_x"
    assert len(set(broker.actors)) == 3000  # no two phones' actor names collide
    # Dramatiq's public decorator checks a queue name: every one of ours passes it.
    stub = StubBroker()
    for index, queue in enumerate(declared.actors):
        dramatiq.actor(_unused, broker=stub, actor_name=f"check_{index}", queue_name=queue)
    queues = all_queues(p.id for p in THOUSAND)
    assert queues[:4] == ["phone_P0", "phone_P0_followup", "phone_P2", "phone_P2_followup"]
    assert queues[-2:] == ["phone_site-999_x", "phone_site-999_x_followup"]


@pytest.fixture
def slug_settings(redis_namespace: str) -> Settings:
    phones = (PhoneSettings("london-3", "+447700900001"), PhoneSettings("Ber_2", "+447700900002"))
    return replace(Settings(), redis=RedisSettings(REDIS_URL, redis_namespace), phones=phones)


@pytest.fixture
def slug_broker(slug_settings: Settings) -> Iterator[PhoneBroker]:
    broker = build_broker(slug_settings)
    assert isinstance(broker, PhoneBroker)
    broker.idle_poll_s = 0.05
    yield broker
    broker.close()
    broker.client.connection_pool.disconnect()


def test_a_slug_phones_messages_are_fetched_with_its_lease_and_sent(
    slug_settings: Settings, slug_broker: PhoneBroker, redis_client: redis.Redis
) -> None:
    namespace = slug_settings.redis.namespace
    sent: list[tuple[str, str, int, str | None]] = []
    lock = threading.Lock()

    def send(queue: str, phone_id: str, enrollment_id: int, _step: int, _dispatch: int) -> None:
        holder = redis_client.get(lease_key(namespace, phone_id))
        with lock:
            sent.append((queue, phone_id, enrollment_id, holder.decode() if holder else None))

    def answer(phone_id: str, auto_reply_id: int) -> None:
        send(queue_name(phone_id, FOLLOWUP), phone_id, auto_reply_id, 0, 0)

    declared = declare_actors(slug_broker, slug_settings, send, answer)
    declared.enqueue(queue_name("london-3", FIRST), 1, 0, 0)
    declared.enqueue(queue_name("london-3", FOLLOWUP), 2, 1, 0)
    declared.enqueue_answer("Ber_2", 3)
    worker = dramatiq.Worker(slug_broker, worker_threads=2, worker_timeout=100)
    worker.start()
    try:
        deadline = time.monotonic() + 10
        while len(sent) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        worker.stop(timeout=5000)
    assert sorted((queue, phone, n) for queue, phone, n, _ in sent) == [
        ("phone_Ber_2_followup", "Ber_2", 3),
        ("phone_london-3", "london-3", 1),
        ("phone_london-3_followup", "london-3", 2),
    ]
    # Each was sent holding its phone's lease, taken for its own queue.
    for queue, _phone, _n, holder in sent:
        assert holder is not None and holder.endswith(f":{queue}")
    assert redis_client.llen(f"{namespace}:phone_london-3") == 0


def test_worker_and_campaign_phone_choices_take_slugs_in_natural_order() -> None:
    from engine.campaign_launch import phones_of
    from engine.errors import ConfigError
    from engine.worker import select_queues

    phones = tuple(PhoneSettings(i, f"+44770090000{n}") for n, i in enumerate(["p10", "p2", "01"]))
    settings = replace(Settings(), phones=phones)
    assert select_queues(settings, ["p10", "p2"]) == [
        "phone_p2", "phone_p2_followup", "phone_p10", "phone_p10_followup",
    ]  # fmt: skip
    with pytest.raises(ConfigError, match="no such phone"):
        select_queues(settings, ["P2"])  # ids are used exactly as written
    assert phones_of(settings, " p10, 01 ,p2") == ("01", "p2", "p10")
