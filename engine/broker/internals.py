"""What the broker seam relies on inside Dramatiq: private names and the Redis key layout.

The fetcher (:mod:`engine.broker.fetcher`) replaces the Redis broker's consumer, so it
depends on parts of Dramatiq that are not its public API. They are all named here,
once; ``pyproject.toml`` pins Dramatiq to the minor versions tested, and
``tests/broker/test_dramatiq_contract.py`` checks each of them against the installed
Dramatiq (the keys a real broker writes, the names and their signatures), so an
upgrade that moves any of them fails a test rather than production.

The fetcher's script (:data:`TAKE_SCRIPT`) reads and writes those keys itself. The keys
of Dramatiq's Redis broker, for a namespace ``ns``:

- ``ns:<queue>``: the queue, a list of message ids;
- ``ns:<queue>.msgs``: the messages, a hash of id to encoded message;
- ``ns:<queue>.DQ``: the delay queue (its own list and hash, the same way);
- ``ns:__acks__.<broker id>.<queue>``: a worker's unacked messages, a set of ids;
- ``ns:__heartbeats__``: the workers' heartbeats, a sorted set of broker ids by time.

A phone queue's delayed messages and the ready index are the engine's own keys
(:mod:`engine.broker.index`), not Dramatiq's.
"""

from __future__ import annotations

from typing import Any

from dramatiq import Consumer, Message, MessageProxy
from dramatiq.brokers.redis import RedisBroker
from dramatiq.worker import ConsumerThread, Worker, _WorkQueueItem

from engine.broker.index import INDEX_LUA
from phones.lease import LEASE_LUA

__all__ = [
    "PUT_BACK_SCRIPT",
    "TAKE_SCRIPT",
    "ThreadlessConsumer",
    "acks_key",
    "broker_id",
    "hand_to_worker_threads",
    "heartbeats_key",
    "messages_key",
    "nack",
    "queue_key",
    "redis_message_id",
    "takes_queue",
]


def queue_key(namespace: str, queue: str) -> str:
    return f"{namespace}:{queue}"


def messages_key(namespace: str, queue: str) -> str:
    return f"{namespace}:{queue}.msgs"


def acks_key(namespace: str, broker: str, queue: str) -> str:
    return f"{namespace}:__acks__.{broker}.{queue}"


def heartbeats_key(namespace: str) -> str:
    return f"{namespace}:__heartbeats__"


def broker_id(broker: RedisBroker) -> str:
    """The id a broker's worker acks and heartbeats under."""
    return str(broker.broker_id)


def redis_message_id(message: Message[Any] | MessageProxy) -> str:
    """The id the Redis broker stores a message under (not Dramatiq's message id)."""
    return str(message.options["redis_message_id"])


def hand_to_worker_threads(worker: Worker, priority: int, message: MessageProxy) -> None:
    """Put a fetched message on the worker threads' queue, as Dramatiq's consumer does."""
    worker.work_queue.put(_WorkQueueItem(priority, message))


def takes_queue(worker: Worker, queue: str) -> bool:
    """Whether the worker consumes ``queue`` (its ``queues`` whitelist, if any)."""
    whitelist = worker.consumer_whitelist
    return not whitelist or queue in whitelist


class ThreadlessConsumer(ConsumerThread):
    """What the worker keeps for a queue whose messages the fetcher fetches: Dramatiq's
    consumer thread, never started. Its worker threads ack, nack and requeue through it
    (:meth:`post_process_message`, :meth:`requeue_messages`, with Dramatiq's own retries);
    it polls nothing, so a process costs no thread and no wake-up per phone queue.
    Registered in ``worker.consumers`` before the worker boots, the worker starts no
    thread of its own for the queue."""

    def __init__(self, worker: Worker, queue: str, consumer: Consumer) -> None:
        super().__init__(
            broker=worker.broker, queue_name=queue, prefetch=1,
            work_queue=worker.work_queue, worker_timeout=worker.worker_timeout,
        )  # fmt: skip
        self.consumer = consumer

    def pause(self) -> None:
        super().pause()
        self.paused_event.set()  # nothing runs to notice it

    def join(self, timeout: float | None = None) -> None:
        return None  # never started: nothing to wait for


def nack(broker: RedisBroker, queue: str, message: MessageProxy) -> None:
    """Move an unacked message to the dead letters (Dramatiq's own nack)."""
    broker.do_nack(queue, redis_message_id(message))


# KEYS[1] the namespace. ARGV: now (ms), worker id, lease TTL (ms), how many messages at
# most (0: none), which of a phone's queues to try first (a counter), a token prefix,
# whether to do maintenance, heartbeat timeout (ms), the key of the process's phone set
# (engine.broker.index.phone_set_key), then what to ack first, if anything: queue,
# message id, lease key, lease token, the phone's index member (empty strings for
# nothing).
#
# Returns {acked, next, missing, queue, message id, message data, ...}: ``acked`` is 1
# when the acked message's lease was still its own and is now free, else 0; ``next``
# the ms until the index's earliest phone comes due, when that is later than now (else
# -1); ``missing`` 1 when the phone set is not in Redis (Redis lost it: the caller
# writes it again; nothing is taken meanwhile). The lease token of each message taken
# is "<prefix>:<queue>".
#
# Only the phones the index says are due are looked at (engine.broker.index), oldest
# first, and only those in the process's phone set: a busy one is scored again at its
# lease's expiry, an empty one leaves the index, a free one gives a message (its queues
# tried in turn) and is scored at the lease's expiry. Each phone looked at leaves the
# due range, so a fetch ends; those of other processes' phone sets are stepped over.
# Keys are those of Dramatiq's Redis broker: the queue list "<ns>:<queue>", the message
# hash "<ns>:<queue>.msgs", the worker's set of unacked messages
# "<ns>:__acks__.<worker>.<queue>", the heartbeats "<ns>:__heartbeats__"; and the index's,
# and "<ns>:__held__.<worker>", the phones (members) a worker ever took a message from,
# so that maintenance finds a dead worker's unacked messages without looking at every
# phone (it runs, by Dramatiq's chance, on a fetch that has room).
TAKE_SCRIPT = (
    LEASE_LUA
    + INDEX_LUA
    + """
local ns = KEYS[1]
local now, worker, ttl = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3])
local limit, turn, prefix = tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6]
local phones = ARGV[9]
local heartbeats = ns .. ':__heartbeats__'
local ready = ns .. ':__ready__'
local held = ns .. ':__held__.' .. worker
redis.call('zadd', heartbeats, now, worker)
local out = {0, -1, 0}
local acked_queue, acked_id, acked_lease = ARGV[10], ARGV[11], ARGV[12]
if acked_queue ~= '' then
  if redis.call('srem', ns .. ':__acks__.' .. worker .. '.' .. acked_queue, acked_id) > 0 then
    redis.call('hdel', ns .. ':' .. acked_queue .. '.msgs', acked_id)
  end
  if acked_lease ~= '' then
    out[1] = lease_release(acked_lease, ARGV[13])
  end
  if ARGV[14] ~= '' then
    index_settle(ns, ARGV[14], now)
  end
end
if limit > 0 and redis.call('exists', phones) == 0 then
  out[3] = 1
  limit = 0
end
if ARGV[7] == '1' and limit > 0 then
  -- A dead worker's unacked messages go back to their queues (the lease lapses by
  -- itself): those of the phones it ever took from, whatever process consumes them.
  for _, gone in ipairs(redis.call('zrangebyscore', heartbeats, 0, now - tonumber(ARGV[8]))) do
    local held = ns .. ':__held__.' .. gone
    for _, member in ipairs(redis.call('smembers', held)) do
      local parts = index_parts(member)
      local back = false
      for i = 2, #parts do
        local queue = parts[i]
        local acks = ns .. ':__acks__.' .. gone .. '.' .. queue
        for _, id in ipairs(redis.call('smembers', acks)) do
          if redis.call('hexists', ns .. ':' .. queue .. '.msgs', id) == 1 then
            redis.call('rpush', ns .. ':' .. queue, id)
            back = true
          end
        end
        redis.call('del', acks)
      end
      if back then
        redis.call('zadd', ready, 'lt', now, member)
      end
    end
    redis.call('del', held)
  end
end
local taken, skipped = 0, 0
while taken < limit do
  local due = redis.call('zrangebyscore', ready, '-inf', now, 'limit', skipped, limit - taken + 8)
  if #due == 0 then
    break
  end
  for _, member in ipairs(due) do
    if taken >= limit then
      break
    end
    if redis.call('sismember', phones, member) == 0 then
      skipped = skipped + 1
    else
      local parts = index_parts(member)
      local lease = parts[1]
      local earliest = index_release_due(ns, parts, now)
      local score = false
      if not lease_free(lease) then
        score = now + math.max(redis.call('pttl', lease), 1)
      else
        local count = #parts - 1
        for k = 0, count - 1 do
          local queue = parts[2 + (turn + k) % count]
          local id = redis.call('lpop', ns .. ':' .. queue)
          if id then
            local data = redis.call('hget', ns .. ':' .. queue .. '.msgs', id)
            if data then
              redis.call('sadd', ns .. ':__acks__.' .. worker .. '.' .. queue, id)
              redis.call('sadd', held, member)
              lease_take(lease, prefix .. ':' .. queue, ttl)
              out[#out + 1] = queue
              out[#out + 1] = id
              out[#out + 1] = data
              taken = taken + 1
              score = now + ttl
              break
            end
          end
        end
        if not score and index_has_ready(ns, parts) then
          score = now + 1  -- only ids without data came off: look again next fetch
        end
        if score == now + ttl and not earliest and not index_has_ready(ns, parts) then
          score = false  -- its last message: the ack puts it back if more come
        end
        if not score then
          score = earliest
        end
      end
      if score then
        redis.call('zadd', ready, score, member)
      else
        redis.call('zrem', ready, member)
      end
    end
  end
end
local first = redis.call('zrange', ready, 0, 0, 'withscores')
if first[2] and tonumber(first[2]) > now then
  out[2] = tonumber(first[2]) - now
end
return out
"""
)

# KEYS[1] the namespace. ARGV: now (ms), worker id, queue, the phone's member, lease key,
# lease token ("": none), then the message ids to put back on the queue,
# at the tail of the queue, as Dramatiq's requeue does (none: only free the lease and
# settle the phone). For messages that go back unworked:
# Dramatiq's requeue, the lease given back, and the phone due again, in one step.
PUT_BACK_SCRIPT = (
    LEASE_LUA
    + INDEX_LUA
    + """
local ns = KEYS[1]
local now, worker, queue, member = tonumber(ARGV[1]), ARGV[2], ARGV[3], ARGV[4]
local acks = ns .. ':__acks__.' .. worker .. '.' .. queue
for i = 7, #ARGV do
  if redis.call('srem', acks, ARGV[i]) > 0 then
    if redis.call('hexists', ns .. ':' .. queue .. '.msgs', ARGV[i]) == 1 then
      redis.call('rpush', ns .. ':' .. queue, ARGV[i])
    end
  end
end
local freed = 0
if ARGV[6] ~= '' then
  freed = lease_release(ARGV[5], ARGV[6])
end
index_settle(ns, member, now)
return freed
"""
)
