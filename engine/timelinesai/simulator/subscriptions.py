"""Webhook subscriptions of the simulated workspace (``/webhooks``).

Stored and listed as TimelinesAI does; the simulator posts events to its
configured ``webhook_url`` only, never to a subscribed URL.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from engine.timelinesai.simulator.records import ApiError

MAX_SUBSCRIPTIONS = 10
EVENT_TYPES = frozenset(
    {
        "message:new",
        "message:received:new",
        "message:sent:new",
        "message:reaction",
        "whatsapp:account:connected",
        "whatsapp:account:disconnected",
        "whatsapp:account:suspended",
        "whatsapp:account:resumed",
        "chat:new",
        "chat:incoming:new",
        "chat:outgoing:new",
        "chat:responsible:assigned",
        "chat:responsible:unassigned",
        "call:incoming:missed",
        "call:incoming:ended",
        "call:outgoing:ended",
        # Official (WABA) numbers' events: subscribable, never fired by the simulator.
        "waba:message:received",
        "waba:message:delivered",
        "waba:message:failed",
        "waba:message:read",
        "waba:chat:incoming",
        "waba:chat:outgoing",
        "waba:chat:assigned",
        "waba:chat:unassigned",
        "waba:chat:closed",
        "waba:chat:reopened",
        "waba:account:active",
        "waba:account:disabled",
        "waba:account:disconnected",
        "waba:template:approved",
        "waba:template:rejected",
        "waba:template:disabled",
    }
)


@dataclass(frozen=True)
class Subscription:
    """One event type delivered to one URL."""

    id: int
    event_type: str
    url: str
    enabled: bool = True
    errors_counter: int = 0

    def to_json(self) -> dict[str, Any]:
        """The subscription as TimelinesAI shows it."""
        return asdict(self)


class Subscriptions:
    """At most :data:`MAX_SUBSCRIPTIONS` subscriptions, numbered from 1."""

    def __init__(self) -> None:
        self._items: dict[int, Subscription] = {}
        self._next_id = 1

    def all(self) -> list[Subscription]:
        """Every subscription, oldest first."""
        return list(self._items.values())

    def get(self, subscription_id: int | str) -> Subscription:
        """One subscription; 404 when there is none (or the id is not a number)."""
        key = str(subscription_id)
        found = self._items.get(int(key)) if key.isascii() and key.isdigit() else None
        if found is None:
            raise ApiError(404, f'Webhook id "{subscription_id}" not found')
        return found

    def create(self, event_type: str, url: str, enabled: bool) -> Subscription:
        """Subscribe ``url`` to ``event_type``; 400 past the limit or for a bad field.

        Idempotent on (event type, URL), as the spec says: the same pair again answers
        the existing subscription, enabled.
        """
        for existing in self._items.values():
            if (existing.event_type, existing.url) == (event_type, url):
                enabled_again = replace(existing, enabled=True)
                self._items[existing.id] = enabled_again
                return enabled_again
        if len(self._items) >= MAX_SUBSCRIPTIONS:
            raise ApiError(400, f"a workspace has at most {MAX_SUBSCRIPTIONS} webhooks")
        _check(event_type, url)
        created = Subscription(self._next_id, event_type, url, enabled)
        self._items[created.id] = created
        self._next_id += 1
        return created

    def update(
        self,
        subscription_id: int | str,
        *,
        event_type: str | None,
        url: str | None,
        enabled: bool | None,
    ) -> Subscription:
        """Change the given fields of a subscription."""
        current = self.get(subscription_id)
        updated = replace(
            current,
            event_type=current.event_type if event_type is None else event_type,
            url=current.url if url is None else url,
            enabled=current.enabled if enabled is None else enabled,
        )
        _check(updated.event_type, updated.url)
        self._items[current.id] = updated
        return updated

    def delete(self, subscription_id: int | str) -> None:
        """Remove a subscription; 404 when there is none."""
        del self._items[self.get(subscription_id).id]


def _check(event_type: str, url: str) -> None:
    if event_type not in EVENT_TYPES:
        raise ApiError(400, f'Unknown event_type "{event_type}"')
    if not url.startswith(("http://", "https://")):
        raise ApiError(400, "url must be an http(s) URL")
