"""The child of bench/scale.py: a worker process, or the producer, on N phones' queues.

Uses the ``engine`` found first on ``sys.path`` (bench/scale.py puts the tree under test
there, this tree or ``--against REV``), so both sides run their own broker code.

    python bench/scale_worker.py work URL NAMESPACE PHONES THREADS
    python bench/scale_worker.py enqueue URL NAMESPACE PHONES PER_PHONE PART PARTS

``work``: a Dramatiq worker (the engine's PhoneBroker, its fetcher and leases) on both
queues of every phone, as ``outreach worker`` has (which also declares the ``replies``
queue's actor without consuming it), whose actors send nothing: each only counts itself in Redis (``<ns>:bench:done``, one INCR per
message, the same on both sides), so the figures are the broker's alone. Runs until
SIGTERM. ``enqueue``: PER_PHONE messages on the first-message queue of each phone whose
number is PART modulo PARTS, through the broker's own enqueue, then exits.
"""

from __future__ import annotations

import gc
import signal
import sys
import threading

import dramatiq
import redis

from engine.broker import FIRST, FOLLOWUP, PhoneBroker, queue_name


def phone_ids(count: int) -> list[str]:
    return [f"{n:04d}" for n in range(1, count + 1)]


def build(url: str, namespace: str, phones: int) -> tuple[PhoneBroker, dict[str, dramatiq.Actor]]:  # type: ignore[type-arg]
    broker = PhoneBroker(url=url, namespace=namespace, lease_ttl_s=90, idle_poll_s=0.25)
    counter = redis.Redis.from_url(url)
    done = f"{namespace}:bench:done"

    def count(n: int) -> None:
        counter.incr(done)

    actors = {}
    for phone in phone_ids(phones):
        for kind in (FIRST, FOLLOWUP):
            queue = queue_name(phone, kind)
            broker.add_phone_queue(queue, phone)
            actors[queue] = dramatiq.Actor(
                count, broker=broker, actor_name=f"send_{queue}", queue_name=queue,
                priority=0, options={"max_retries": 0},
            )  # fmt: skip
    dramatiq.Actor(
        count, broker=broker, actor_name="replies", queue_name="replies", priority=0,
        options={"max_retries": 0},
    )  # fmt: skip
    return broker, actors


def work(url: str, namespace: str, phones: int, threads: int) -> None:
    broker, actors = build(url, namespace, phones)
    worker = dramatiq.Worker(
        broker, queues=set(actors), worker_threads=threads, worker_timeout=1000
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    gc.collect()  # as engine.worker.run_worker_process does: start-up's objects stay put
    gc.freeze()
    worker.start()
    print("ready", flush=True)
    stop.wait()
    worker.stop(timeout=10_000)
    broker.close()


def enqueue(url: str, namespace: str, phones: int, per_phone: int, part: int, parts: int) -> None:
    broker, actors = build(url, namespace, phones)
    mine = [phone for index, phone in enumerate(phone_ids(phones)) if index % parts == part]
    for n in range(per_phone):
        for phone in mine:
            actors[queue_name(phone, FIRST)].send(n)
    broker.close()


if __name__ == "__main__":
    mode, url, namespace, phones, last, *part = sys.argv[1:]
    if mode == "work":
        work(url, namespace, int(phones), int(last))
    else:
        enqueue(url, namespace, int(phones), int(last), int(part[0]), int(part[1]))
