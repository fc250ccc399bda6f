"""The ready index: which phones may have a message to send, and from when.

Polling every phone queue costs a worker process a Redis command per queue per poll,
idle or not. Instead the deployment keeps one sorted set, ``<ns>:__ready__``: a member
per phone (:func:`phone_member`), scored with the earliest moment (Unix ms) a fetch may
find work there. A fetch reads only the members already due, so an idle process costs a
handful of commands per poll whatever the number of phones.

The rule it keeps (every script that changes a phone queue keeps it, in the same Lua
step as the change, so no message can slip between a check and a write): **a phone
with a message on one of its queues, or a delayed one, is in the index, with a score no
later than the moment it may be fetched** — now for a ready message on a free phone,
the lease's expiry for a busy phone (the ack brings it forward to the ack), the eta of
its earliest delayed message. A score may be early (a fetch then looks, finds the phone
busy or empty, and scores it again or takes it out); it is never late, so a ready
message never waits for a score, and a dead worker's phone comes due when its lease
lapses.

Delayed messages (pacing's put-backs, retries, a scheduled send) of a phone queue live
in ``<ns>:<queue>.delayed``, a sorted set of message ids by eta, their data in the
queue's own message hash; the fetch moves the due ones onto the queue. Dramatiq's own
delay queues (``<queue>.DQ``, a consumer thread polling each) are not used for phone
queues.

Everything here is Lua text and key names; the scripts that use it are in
:mod:`engine.broker.internals`.
"""

from __future__ import annotations

from collections.abc import Iterable
from hashlib import blake2b

__all__ = [
    "ENQUEUE_SCRIPT",
    "INDEX_LUA",
    "delayed_key",
    "phone_member",
    "phone_set_key",
    "ready_key",
]


def ready_key(namespace: str) -> str:
    """The index: a sorted set of :func:`phone_member` by the ms they may next send."""
    return f"{namespace}:__ready__"


def delayed_key(namespace: str, queue: str) -> str:
    """A phone queue's delayed messages: a sorted set of message ids by eta (ms)."""
    return f"{namespace}:{queue}.delayed"


def phone_member(lease: str, queues: Iterable[str]) -> str:
    """A phone's member in the index: its lease key and its queues, space-separated.

    Every process builds the same member for a phone (the queues sorted), from
    :func:`~phones.lease.lease_key` and :func:`~engine.broker.queues.queue_name`, so the
    scripts need no naming rule of their own.
    """
    return " ".join([lease, *sorted(queues)])


def phone_set_key(namespace: str, members: Iterable[str]) -> str:
    """The set of the phones a worker process consumes (its members), named by their
    digest: processes consuming the same phones share it; a fetch takes only from it."""
    digest = blake2b("\n".join(sorted(members)).encode(), digest_size=8).hexdigest()
    return f"{namespace}:__phones__.{digest}"


# Lua functions for every script that changes a phone queue. ``ns`` is the namespace,
# ``member`` a phone's member, ``now`` Unix ms.
INDEX_LUA = """
local function index_parts(member)
  local parts = {}
  for word in string.gmatch(member, '%S+') do
    parts[#parts + 1] = word
  end
  return parts
end
-- Moves the phone's due delayed messages onto their queues; returns the eta of the
-- earliest one still delayed, or false.
local function index_release_due(ns, parts, now)
  local earliest = false
  for i = 2, #parts do
    local delayed = ns .. ':' .. parts[i] .. '.delayed'
    local due = redis.call('zrangebyscore', delayed, '-inf', now)
    if #due > 0 then
      local queue = ns .. ':' .. parts[i]
      for _, id in ipairs(due) do
        redis.call('rpush', queue, id)
      end
      redis.call('zremrangebyscore', delayed, '-inf', now)
    end
    local first = redis.call('zrange', delayed, 0, 0, 'withscores')
    if first[2] then
      local eta = tonumber(first[2])
      if not earliest or eta < earliest then
        earliest = eta
      end
    end
  end
  return earliest
end
local function index_has_ready(ns, parts)
  for i = 2, #parts do
    if redis.call('llen', ns .. ':' .. parts[i]) > 0 then
      return true
    end
  end
  return false
end
-- After a message of the phone was acked, nacked or put back: the phone comes due now
-- if a message is ready, at its earliest delayed one's eta, else leaves the index.
-- Only ever brings a score forward (lt): a later one may be another fetch's finding.
local function index_settle(ns, member, now)
  local ready = ns .. ':__ready__'
  local parts = index_parts(member)
  local earliest = index_release_due(ns, parts, now)
  if index_has_ready(ns, parts) then
    redis.call('zadd', ready, 'lt', now, member)
  elseif earliest then
    redis.call('zadd', ready, 'lt', earliest, member)
  else
    redis.call('zrem', ready, member)
  end
end
"""

# KEYS[1] the namespace. ARGV: now (ms), queue, message id, message data, eta (ms; ""
# for a message ready now), the phone's member. The message and its place in the index
# in one step: a fetch never sees the one without the other.
ENQUEUE_SCRIPT = """
local ns = KEYS[1]
local now, queue, id, data, eta, member = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
redis.call('hset', ns .. ':' .. queue .. '.msgs', id, data)
if eta == '' then
  redis.call('rpush', ns .. ':' .. queue, id)
  redis.call('zadd', ns .. ':__ready__', 'lt', now, member)
else
  redis.call('zadd', ns .. ':' .. queue .. '.delayed', eta, id)
  redis.call('zadd', ns .. ':__ready__', 'lt', eta, member)
end
return 1
"""
