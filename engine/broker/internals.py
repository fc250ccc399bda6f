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
"""

from __future__ import annotations

from typing import Any

from dramatiq import Message, MessageProxy
from dramatiq.brokers.redis import RedisBroker
from dramatiq.worker import Worker, _WorkQueueItem

from phones.lease import LEASE_LUA

__all__ = [
    "TAKE_SCRIPT",
    "acks_key",
    "broker_id",
    "hand_to_worker_threads",
    "heartbeats_key",
    "messages_key",
    "nack",
    "queue_key",
    "redis_message_id",
    "requeue",
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


def nack(broker: RedisBroker, queue: str, message: MessageProxy) -> None:
    """Move an unacked message to the dead letters (Dramatiq's own nack)."""
    broker.do_nack(queue, redis_message_id(message))


def requeue(broker: RedisBroker, queue: str, messages: list[MessageProxy]) -> None:
    """Put unacked messages back at the head of their queue (Dramatiq's own requeue)."""
    broker.do_requeue(queue, *(redis_message_id(message) for message in messages))


# KEYS[1] the namespace. ARGV: timestamp (ms), worker id, lease TTL (ms), how many
# messages at most (0: none), the queue to start at (0-based), a token prefix, whether to
# do maintenance, heartbeat timeout (ms), the queues as one string of "<queue> <lease
# key>" pairs separated by spaces (one argument, not eighty: packing them costs more than
# splitting them in Lua), then what to ack first, if anything: queue, message id, lease
# key, lease token (empty strings for nothing).
#
# Returns {acked, queue, message id, message data, ...}: ``acked`` is 1 when the acked
# message's lease was still its own and is now free, else 0; the lease token of each
# message taken is "<prefix>:<queue>". Keys are those of Dramatiq's Redis broker: the
# queue list "<ns>:<queue>", the message hash "<ns>:<queue>.msgs", the worker's set of
# unacked messages "<ns>:__acks__.<worker>.<queue>", the heartbeats "<ns>:__heartbeats__".
TAKE_SCRIPT = (
    LEASE_LUA
    + """
local ns = KEYS[1]
local now, worker, ttl = tonumber(ARGV[1]), ARGV[2], ARGV[3]
local limit, start, prefix = tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6]
local heartbeats = ns .. ':__heartbeats__'
redis.call('zadd', heartbeats, now, worker)
local out = {0}
local acked_queue, acked_id, acked_lease = ARGV[10], ARGV[11], ARGV[12]
if acked_queue ~= '' then
  if redis.call('srem', ns .. ':__acks__.' .. worker .. '.' .. acked_queue, acked_id) > 0 then
    redis.call('hdel', ns .. ':' .. acked_queue .. '.msgs', acked_id)
  end
  if acked_lease ~= '' then
    out[1] = lease_release(acked_lease, ARGV[13])
  end
end
local names = {}
for word in string.gmatch(ARGV[9], '%S+') do
  names[#names + 1] = word
end
local count = #names / 2
if ARGV[7] == '1' then
  -- A dead worker's unacked messages go back to their queues (the lease lapses by itself).
  local dead = redis.call('zrangebyscore', heartbeats, 0, now - tonumber(ARGV[8]))
  for _, gone in ipairs(dead) do
    for k = 0, count - 1 do
      local queue = names[1 + 2 * k]
      local acks = ns .. ':__acks__.' .. gone .. '.' .. queue
      for _, id in ipairs(redis.call('smembers', acks)) do
        if redis.call('hexists', ns .. ':' .. queue .. '.msgs', id) == 1 then
          redis.call('rpush', ns .. ':' .. queue, id)
        end
      end
      redis.call('del', acks)
    end
  end
end
local taken = 0
for k = 0, count - 1 do
  if taken >= limit then
    break
  end
  local i = 1 + 2 * ((start + k) % count)
  local queue, lease = names[i], names[i + 1]
  if lease_free(lease) then
    local id = redis.call('lpop', ns .. ':' .. queue)
    if id then
      local data = redis.call('hget', ns .. ':' .. queue .. '.msgs', id)
      if data then
        redis.call('sadd', ns .. ':__acks__.' .. worker .. '.' .. queue, id)
        lease_take(lease, prefix .. ':' .. queue, ttl)
        out[#out + 1] = queue
        out[#out + 1] = id
        out[#out + 1] = data
        taken = taken + 1
      end
    end
  end
end
return out
"""
)
