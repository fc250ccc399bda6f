"""Choosing the phone for a lead's first message. Pure.

Among active phones with quota left today, the least loaded (fewest first messages
assigned but not yet sent, then fewest used today), ties broken by phone id so the
choice is deterministic. A campaign limited to some phones chooses only among them.
Follow-ups never choose: they stay on the first message's phone, where the chat lives.
"""

from __future__ import annotations

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


def choose_phone(phones: Iterable[PhoneLoad]) -> str | None:
    """The phone for the next first message, or ``None`` when none can take one."""
    candidates = [p for p in phones if p.active and p.quota_left - p.pending > 0]
    if not candidates:
        return None
    best = min(candidates, key=lambda p: (p.pending, p.used_today, p.id))
    return best.id


def assign(
    phones: Iterable[PhoneLoad], allowed: Sequence[frozenset[str] | None]
) -> list[str | None]:
    """Choose a phone for each first message in turn, by :func:`choose_phone` among the
    phones it ``allowed`` (``None``: any), counting each choice as pending on its phone.

    Returns one phone per message, in order; ``None`` where no allowed phone can take it
    (it waits in the database for the next pass).
    """
    loads = {p.id: p for p in phones}
    chosen: list[str | None] = []
    for subset in allowed:
        pool = loads.values() if subset is None else [p for p in loads.values() if p.id in subset]
        phone_id = choose_phone(pool)
        if phone_id is not None:
            loads[phone_id] = replace(loads[phone_id], pending=loads[phone_id].pending + 1)
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
