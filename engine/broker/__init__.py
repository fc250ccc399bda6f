"""The broker seam: the phones' Dramatiq queues on Redis, and the fetch that takes each
message together with its phone's lease.

Everything that knows Dramatiq's Redis broker from the inside is here: the queues and
actors (:mod:`engine.broker.queues`), the fetcher that replaces the broker's consumer
for phone queues (:mod:`engine.broker.fetcher`) and the private names and key layout
both rely on (:mod:`engine.broker.internals`, checked by a contract test).
"""

from engine.broker.queues import (
    FIRST,
    FOLLOWUP,
    PhoneActors,
    PhoneBroker,
    all_queues,
    answer_actor_name,
    base_queue,
    build_broker,
    declare_actors,
    queue_name,
)
from engine.broker.retrying import current_options, current_retries, retried_quietly

__all__ = [
    "FIRST",
    "FOLLOWUP",
    "PhoneActors",
    "PhoneBroker",
    "all_queues",
    "answer_actor_name",
    "base_queue",
    "build_broker",
    "current_options",
    "current_retries",
    "declare_actors",
    "queue_name",
    "retried_quietly",
]
