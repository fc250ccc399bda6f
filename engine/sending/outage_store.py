"""Where the API outage breaker (:mod:`engine.sending.outage`) keeps its state.

Every worker process must see the same count and the same trip, so the breaker lives
in Redis: one hash ``<namespace>:outage`` (the count and the trip, changed in a
WATCH/MULTI transaction around the pure rule) and one key ``<namespace>:outage:probe``
(``SET NX`` with a TTL: the one send that may probe when the back-off is over; a
prober that died lets another probe once it expires). Losing the state costs at most
a few more failing sends. :class:`MemoryOutage` is the same inside one process, for
tests and single-process tools.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import redis

from engine.sending.outage import CLOSED, Gate, OutagePolicy, OutageState, after_failure, gate

__all__ = [
    "Admission",
    "MemoryOutage",
    "OutageBreaker",
    "RedisOutage",
    "outage_key",
    "read_outage",
]


@dataclass(frozen=True)
class Admission:
    """What the breaker lets a send do: go (closed), go as the probe (``token``), or
    wait until ``until`` (open, or another send is probing)."""

    gate: Gate
    until: datetime | None = None
    token: str | None = None

    @property
    def paused(self) -> bool:
        """True when the send must not go now."""
        return self.gate == Gate.OPEN


GO = Admission(Gate.CLOSED)


class OutageBreaker(Protocol):
    """The workspace's API outage breaker."""

    def admit(self, now: datetime) -> Admission:
        """May a send go at ``now``? In half-open, only the first asker probes."""
        ...

    def failed(self, now: datetime) -> tuple[OutageState, OutageState]:
        """Count one "down" failure; the state before and after it."""
        ...

    def answered(self) -> OutageState:
        """The API answered: close the breaker; the state it was in."""
        ...

    def end_probe(self, admission: Admission) -> None:
        """The probe sent nothing (or is settled): let another send probe."""
        ...


def outage_key(namespace: str) -> str:
    """The Redis hash of the breaker's count and trip."""
    return f"{namespace}:outage"


def read_outage(client: redis.Redis, namespace: str) -> OutageState:
    """The breaker as stored (for ``outreach status``); raises ``redis.RedisError``."""
    return _decode(client.hgetall(outage_key(namespace)))


class RedisOutage:
    """The breaker shared through Redis; see the module doc.

    ``admit`` asks Redis at most once per ``recheck_s`` real seconds while the breaker
    is closed (a trip seen a second late costs a few sends that fail and wait), and on
    every call otherwise. ``real_s`` turns a virtual duration into real seconds (the
    clock's), for the keys' TTLs; ``probe_ttl_s`` (real) outlasts one send.
    """

    def __init__(
        self,
        client: redis.Redis,
        *,
        namespace: str,
        policy: OutagePolicy,
        probe_ttl_s: float,
        real_s: Callable[[float], float] = float,
        recheck_s: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._key = outage_key(namespace)
        self._probe_key = f"{self._key}:probe"
        self._policy = policy
        self._probe_ttl_ms = max(1, int(probe_ttl_s * 1000))
        # Long enough to remember the back-off across a failed probe at the longest one.
        self._ttl_ms = max(1, int(real_s(2 * policy.backoff_max_s) * 1000))
        self._recheck_s = recheck_s
        self._monotonic = monotonic
        self._closed_seen_at = float("-inf")
        self._lock = threading.Lock()

    def admit(self, now: datetime) -> Admission:
        with self._lock:
            if self._monotonic() - self._closed_seen_at < self._recheck_s:
                return GO
        state = _decode(self._client.hgetall(self._key))
        answer = gate(state, now)
        if answer == Gate.CLOSED:
            with self._lock:
                self._closed_seen_at = self._monotonic()
            return GO
        if answer == Gate.OPEN:
            return Admission(Gate.OPEN, state.probe_at)
        token = uuid.uuid4().hex
        if self._client.set(self._probe_key, token, nx=True, px=self._probe_ttl_ms):
            return Admission(Gate.HALF_OPEN, now, token)
        return Admission(Gate.OPEN, now)  # another send is the probe

    def failed(self, now: datetime) -> tuple[OutageState, OutageState]:
        changes: list[tuple[OutageState, OutageState]] = []

        def change(pipe: redis.client.Pipeline) -> None:
            before = _decode(pipe.hgetall(self._key))
            after = after_failure(before, now, self._policy)
            pipe.multi()
            pipe.hset(self._key, mapping=_encode(after))
            pipe.pexpire(self._key, self._ttl_ms)
            if after.tripped_at != before.tripped_at:
                pipe.delete(self._probe_key)  # a new back-off: the next probe comes after it
            changes[:] = [(before, after)]

        self._client.transaction(change, self._key)
        with self._lock:
            self._closed_seen_at = float("-inf")
        return changes[0]

    def answered(self) -> OutageState:
        pipe = self._client.pipeline(transaction=True)
        pipe.hgetall(self._key)
        pipe.delete(self._key, self._probe_key)
        stored, _ = pipe.execute()
        return _decode(stored)

    def end_probe(self, admission: Admission) -> None:
        if admission.token is None:
            return

        def release(pipe: redis.client.Pipeline) -> None:
            held = pipe.get(self._probe_key)
            pipe.multi()
            if held is not None and _text(held) == admission.token:
                pipe.delete(self._probe_key)

        self._client.transaction(release, self._probe_key)


class MemoryOutage:
    """The breaker inside one process (tests, single-process tools)."""

    def __init__(self, policy: OutagePolicy) -> None:
        self._policy = policy
        self._state = CLOSED
        self._probe: str | None = None
        self._lock = threading.Lock()

    @property
    def state(self) -> OutageState:
        """The breaker now."""
        return self._state

    def admit(self, now: datetime) -> Admission:
        with self._lock:
            answer = gate(self._state, now)
            if answer == Gate.CLOSED:
                return GO
            if answer == Gate.OPEN:
                return Admission(Gate.OPEN, self._state.probe_at)
            if self._probe is not None:
                return Admission(Gate.OPEN, now)
            self._probe = uuid.uuid4().hex
            return Admission(Gate.HALF_OPEN, now, self._probe)

    def failed(self, now: datetime) -> tuple[OutageState, OutageState]:
        with self._lock:
            before = self._state
            self._state = after_failure(before, now, self._policy)
            if self._state.tripped_at != before.tripped_at:
                self._probe = None
            return before, self._state

    def answered(self) -> OutageState:
        with self._lock:
            before, self._state, self._probe = self._state, CLOSED, None
            return before

    def end_probe(self, admission: Admission) -> None:
        with self._lock:
            if admission.token is not None and admission.token == self._probe:
                self._probe = None


def _encode(state: OutageState) -> dict[Any, Any]:
    return {
        "failures": str(state.failures),
        "tripped_at": state.tripped_at.isoformat() if state.tripped_at else "",
        "probe_at": state.probe_at.isoformat() if state.probe_at else "",
        "backoff_s": repr(state.backoff_s),
    }


def _decode(stored: Mapping[Any, Any]) -> OutageState:
    fields = {_text(key): _text(value) for key, value in stored.items()}
    if not fields:
        return CLOSED
    try:
        return OutageState(
            int(fields.get("failures") or 0),
            _moment(fields.get("tripped_at")),
            _moment(fields.get("probe_at")),
            float(fields.get("backoff_s") or 0.0),
        )
    except ValueError:
        return CLOSED  # unreadable (another version wrote it): start over


def _moment(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
