"""The per-phone lease: one send in flight per phone across every process and host.

Dramatiq has no per-queue concurrency limit and its ``ConcurrentRateLimiter`` is a
counter with no owner: a killed holder blocks the phone until the TTL and a late
holder can free somebody else's slot. This lease has an owner token: only the
holder can release or extend it, and a holder killed with SIGKILL frees the phone
when the TTL (real seconds, longer than a send can take) runs out.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from typing import Protocol

import redis

# Delete the key only if it still holds our token: a late holder whose lease
# expired and was taken by another worker must not free the new owner's lease.
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('del', KEYS[1])
end
return 0
"""
_EXTEND = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""


def lease_key(namespace: str, phone_id: str) -> str:
    """The Redis key of a phone's lease: ``<namespace>:lease:phone:<id>``."""
    return f"{namespace}:lease:phone:{phone_id}"


class Lease(Protocol):
    """Mutual exclusion per phone with an owner token and a time-to-live."""

    def acquire(self, phone_id: str) -> str | None:
        """Take the phone's lease; return the owner token, or ``None`` if it is held."""
        ...

    def release(self, phone_id: str, token: str) -> bool:
        """Free the lease if ``token`` still owns it; ``False`` if it had expired."""
        ...

    def extend(self, phone_id: str, token: str) -> bool:
        """Renew the TTL if ``token`` still owns the lease; ``False`` if it had expired."""
        ...

    def holder(self, phone_id: str) -> str | None:
        """The current owner token, if any (for diagnostics and tests)."""
        ...


class RedisLease:
    """The cluster-wide lease, one Redis key per phone: ``<namespace>:lease:phone:<id>``."""

    def __init__(self, client: redis.Redis, *, namespace: str, ttl_s: float) -> None:
        self._client = client
        self._namespace = namespace
        self._ttl_ms = int(ttl_s * 1000)
        self._release = client.register_script(_RELEASE)
        self._extend = client.register_script(_EXTEND)

    def _key(self, phone_id: str) -> str:
        return lease_key(self._namespace, phone_id)

    def acquire(self, phone_id: str) -> str | None:
        token = uuid.uuid4().hex
        if self._client.set(self._key(phone_id), token, nx=True, px=self._ttl_ms):
            return token
        return None

    def release(self, phone_id: str, token: str) -> bool:
        return bool(self._release(keys=[self._key(phone_id)], args=[token]))

    def extend(self, phone_id: str, token: str) -> bool:
        return bool(self._extend(keys=[self._key(phone_id)], args=[token, self._ttl_ms]))

    def holder(self, phone_id: str) -> str | None:
        value = self._client.get(self._key(phone_id))
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

    def acquire(self, phone_id: str) -> str | None:
        with self._lock:
            current = self._held.get(phone_id)
            if current is not None and current[1] > self._monotonic():
                return None
            token = uuid.uuid4().hex
            self._held[phone_id] = (token, self._monotonic() + self._ttl_s)
            return token

    def release(self, phone_id: str, token: str) -> bool:
        with self._lock:
            current = self._held.get(phone_id)
            if current is None or current[0] != token:
                return False
            del self._held[phone_id]
            return True

    def extend(self, phone_id: str, token: str) -> bool:
        with self._lock:
            current = self._held.get(phone_id)
            if current is None or current[0] != token or current[1] <= self._monotonic():
                return False
            self._held[phone_id] = (token, self._monotonic() + self._ttl_s)
            return True

    def holder(self, phone_id: str) -> str | None:
        with self._lock:
            current = self._held.get(phone_id)
            if current is None or current[1] <= self._monotonic():
                return None
            return current[0]
