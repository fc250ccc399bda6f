"""Choosing the phone for a lead's first message. Pure.

Among active phones with quota left today, the least loaded (fewest first messages
assigned but not yet sent, then fewest used today), ties broken by phone id so the
choice is deterministic. A campaign limited to some phones chooses only among them.
Follow-ups never choose: they stay on the first message's phone, where the chat lives.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class PhoneLoad:
    """What the choice needs to know of one phone right now."""

    id: str
    active: bool
    quota_left: int
    pending: int = 0
    used_today: int = 0


def can_take(phone: PhoneLoad) -> bool:
    """Whether ``phone`` may take one more first message now."""
    return phone.active and phone.quota_left - phone.pending > 0


def rank(phone: PhoneLoad) -> tuple[int, int, str]:
    """The choice's order: the lowest goes first."""
    return (phone.pending, phone.used_today, phone.id)


def choose_phone(phones: Iterable[PhoneLoad]) -> str | None:
    """The phone for the next first message, or ``None`` when none can take one."""
    candidates = [p for p in phones if can_take(p)]
    if not candidates:
        return None
    best = min(candidates, key=rank)
    return best.id


def assign(
    phones: Iterable[PhoneLoad], allowed: Sequence[frozenset[str] | None]
) -> list[str | None]:
    """Choose a phone for each first message in turn, by :func:`choose_phone` among the
    phones it ``allowed`` (``None``: any), counting each choice as pending on its phone.

    Returns one phone per message, in order; ``None`` where no allowed phone can take it
    (it waits in the database for the next pass).

    The same choice as :func:`choose_phone` over the pool for each message, made with a
    heap per distinct ``allowed`` set (a phone's entry is pushed again when it takes a
    message; an outdated entry is dropped when it comes up), so a pass of 1,000 phones
    and 10,000 messages takes milliseconds, not seconds.
    """
    loads = {p.id: p for p in phones}
    heaps: dict[frozenset[str] | None, list[tuple[int, int, str]]] = {}

    def heap_of(subset: frozenset[str] | None) -> list[tuple[int, int, str]]:
        if subset not in heaps:
            pool = [rank(p) for p in loads.values() if subset is None or p.id in subset]
            heapq.heapify(pool)
            heaps[subset] = pool
        return heaps[subset]

    chosen: list[str | None] = []
    for subset in allowed:
        heap = heap_of(subset)
        phone_id = None
        while heap:
            entry = heap[0]
            load = loads[entry[2]]
            if entry != rank(load) or not can_take(load):
                heapq.heappop(heap)  # outdated, or full for good (pending only grows)
                continue
            phone_id = load.id
            break
        if phone_id is not None:
            loads[phone_id] = load = replace(loads[phone_id], pending=loads[phone_id].pending + 1)
            for other, other_heap in heaps.items():
                if other is None or phone_id in other:
                    heapq.heappush(other_heap, rank(load))
        chosen.append(phone_id)
    return chosen


def spread(phones: Iterable[PhoneLoad], count: int) -> dict[str, int]:
    """Assign ``count`` first messages across phones one at a time by :func:`choose_phone`.

    Returns how many each phone gets; fewer than ``count`` in total when quotas run out.
    """
    loads = {p.id: p for p in phones}
    assigned: dict[str, int] = {}
    for _ in range(count):
        phone_id = choose_phone(loads.values())
        if phone_id is None:
            break
        current = loads[phone_id]
        loads[phone_id] = PhoneLoad(
            current.id, current.active, current.quota_left, current.pending + 1, current.used_today
        )
        assigned[phone_id] = assigned.get(phone_id, 0) + 1
    return assigned
