"""The per-phone lease: one send in flight per phone across every process and host.

Dramatiq has no per-queue concurrency limit and its ``ConcurrentRateLimiter`` is a
counter with no owner: a killed holder blocks the phone until the TTL and a late
holder can free somebody else's slot. This lease has an owner token: only the
holder can release or extend it, and a holder killed with SIGKILL frees the phone
when the TTL (real seconds, longer than a send can take) runs out.

Everything the lease is lives here: its key, its rules in Lua (:data:`LEASE_LUA`,
which the worker's fetch script also runs to take a phone's lease together with its
message), taking it (at once, or waiting a little), extending and releasing it. A
sender is handed a :class:`HeldLease` and never asks whether it holds one.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Protocol

import redis

# The lease's rules as Lua functions, for every script that touches a lease: free when
# no key; taken by setting the owner's token with the TTL; released or extended only
# by the token that owns it, so a late holder whose lease expired and was taken by
# another worker can neither free nor keep the new owner's lease.
LEASE_LUA = """
local function lease_free(key)
  return redis.call('exists', key) == 0
end
local function lease_take(key, token, ttl_ms)
  redis.call('set', key, token, 'px', ttl_ms)
end
local function lease_release(key, token)
  if redis.call('get', key) == token then
    return redis.call('del', key)
  end
  return 0
end
local function lease_extend(key, token, ttl_ms)
  if redis.call('get', key) == token then
    return redis.call('pexpire', key, ttl_ms)
  end
  return 0
end
"""
_RELEASE = LEASE_LUA + "return lease_release(KEYS[1], ARGV[1])"
_EXTEND = LEASE_LUA + "return lease_extend(KEYS[1], ARGV[1], ARGV[2])"

log = logging.getLogger("outreach.lease")

WAIT_POLL_S = 0.004  # real seconds between two tries while waiting for a busy lease


def lease_key(namespace: str, phone_id: str) -> str:
    """The Redis key of a phone's lease: ``<namespace>:lease:phone:<id>``."""
    return f"{namespace}:lease:phone:{phone_id}"


class Lease(Protocol):
    """Mutual exclusion per phone with an owner token and a time-to-live."""

    @property
    def ttl_s(self) -> float:
        """Real seconds a lease lives unless extended."""
        ...

    def take(self, phone_id: str) -> HeldLease | None:
        """Take the phone's lease now; ``None`` if another holds it."""
        ...

    def release(self, held: HeldLease) -> bool:
        """Free the lease if ``held`` still owns it; ``False`` if it had expired."""
        ...

    def extend(self, held: HeldLease) -> bool:
        """Renew the TTL if ``held`` still owns it (moving its ``taken_at`` to now);
        ``False`` if it had expired."""
        ...

    def holder(self, phone_id: str) -> str | None:
        """The current owner token, if any (for diagnostics and tests)."""
        ...


class HeldLease:
    """A phone's lease, held: its token, when it was taken, and what can be done with it."""

    def __init__(self, lease: Lease, phone_id: str, token: str, taken_at: float) -> None:
        self.lease = lease
        self.phone_id = phone_id
        self.token = token
        self.taken_at = taken_at  # time.monotonic(), read before the lease was set

    def left_s(self, now: float) -> float:
        """Real seconds the lease has left at least, at ``now`` (``time.monotonic()``)."""
        return self.lease.ttl_s - (now - self.taken_at)

    def extend(self) -> bool:
        """Renew the TTL from now; ``False`` if the lease had lapsed (and may be another's)."""
        return self.lease.extend(self)

    def release(self) -> bool:
        """Give the phone back; ``False`` if the lease had lapsed meanwhile."""
        return self.lease.release(self)

    def __repr__(self) -> str:
        return f"HeldLease(phone={self.phone_id!r})"


def wait_for(
    lease: Lease, phone_id: str, timeout_s: float, *, poll_s: float = WAIT_POLL_S,
    monotonic: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
) -> HeldLease | None:  # fmt: skip
    """Take the phone's lease, trying again for up to ``timeout_s`` real seconds.

    For a phone whose holder finishes in milliseconds (a sped-up clock, zero jitter):
    waiting briefly is cheaper than a trip through the queue. ``0`` tries once.
    """
    held = lease.take(phone_id)
    deadline = monotonic() + timeout_s
    while held is None and monotonic() < deadline:
        sleep(poll_s)
        held = lease.take(phone_id)
    return held


@contextmanager
def holding(lease: Lease, phone_id: str, timeout_s: float = 0.0) -> Iterator[HeldLease | None]:
    """The phone's lease for the block (:func:`wait_for` up to ``timeout_s``), given back
    after it; ``None`` inside the block if another holds it."""
    held = wait_for(lease, phone_id, timeout_s)
    try:
        yield held
    finally:
        if held is not None and not held.release():
            log.warning("lease of phone %s expired while it was held", phone_id)


class RedisLease:
    """The cluster-wide lease, one Redis key per phone: ``<namespace>:lease:phone:<id>``."""

    def __init__(self, client: redis.Redis, *, namespace: str, ttl_s: float) -> None:
        self._client = client
        self._namespace = namespace
        self._ttl_s = ttl_s
        self._ttl_ms = int(ttl_s * 1000)
        self._release = client.register_script(_RELEASE)
        self._extend = client.register_script(_EXTEND)

    @property
    def ttl_s(self) -> float:
        return self._ttl_s

    def key(self, phone_id: str) -> str:
        return lease_key(self._namespace, phone_id)

    def take(self, phone_id: str) -> HeldLease | None:
        token, taken_at = uuid.uuid4().hex, time.monotonic()
        if self._client.set(self.key(phone_id), token, nx=True, px=self._ttl_ms):
            return HeldLease(self, phone_id, token, taken_at)
        return None

    def adopt(self, phone_id: str, token: str, taken_at: float) -> HeldLease:
        """A lease a script set with ``token`` (the fetch takes it with the message)."""
        return HeldLease(self, phone_id, token, taken_at)

    def release(self, held: HeldLease) -> bool:
        return bool(self._release(keys=[self.key(held.phone_id)], args=[held.token]))

    def extend(self, held: HeldLease) -> bool:
        asked_at = time.monotonic()
        if not self._extend(keys=[self.key(held.phone_id)], args=[held.token, self._ttl_ms]):
            return False
        held.taken_at = asked_at
        return True

    def holder(self, phone_id: str) -> str | None:
        value = self._client.get(self.key(phone_id))
        return value.decode() if isinstance(value, bytes) else None


class MemoryLease:
    """The same lease inside one process, for tests and single-process use (``monotonic``
    is real time by default; tests may pass a fake one)."""

    def __init__(
        self, ttl_s: float = 90.0, *, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._ttl_s = ttl_s
        self._monotonic = monotonic
        self._held: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    @property
    def ttl_s(self) -> float:
        return self._ttl_s

    def take(self, phone_id: str) -> HeldLease | None:
        with self._lock:
            now = self._monotonic()
            current = self._held.get(phone_id)
            if current is not None and current[1] > now:
                return None
            token = uuid.uuid4().hex
            self._held[phone_id] = (token, now + self._ttl_s)
            return HeldLease(self, phone_id, token, now)

    def release(self, held: HeldLease) -> bool:
        with self._lock:
            current = self._held.get(held.phone_id)
            if current is None or current[0] != held.token:
                return False
            del self._held[held.phone_id]
            return True

    def extend(self, held: HeldLease) -> bool:
        with self._lock:
            now = self._monotonic()
            current = self._held.get(held.phone_id)
            if current is None or current[0] != held.token or current[1] <= now:
                return False
            self._held[held.phone_id] = (held.token, now + self._ttl_s)
            held.taken_at = now
            return True

    def holder(self, phone_id: str) -> str | None:
        with self._lock:
            current = self._held.get(phone_id)
            if current is None or current[1] <= self._monotonic():
                return None
            return current[0]
