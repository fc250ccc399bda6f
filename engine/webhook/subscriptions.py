"""Subscribing the receiver to the events the engine uses, idempotently.

``outreach webhook register --url https://HOST/webhooks/timelinesai`` appends the
secret to the URL and makes sure each event type has exactly that subscription:
an existing one is kept (enabled again if it was disabled), one for the same
endpoint with an old secret is updated, only a missing one is created. Running it
twice creates nothing new.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from engine.errors import ConfigError
from engine.timelinesai import TimelinesAIClient, Webhook
from engine.webhook.payloads import HANDLED_EVENT_TYPES

SUBSCRIBED_EVENT_TYPES: tuple[str, ...] = HANDLED_EVENT_TYPES
SECRET_PARAM = "secret"  # noqa: S105 - the parameter's name, not a secret
_HIDDEN = "•••"


def receiver_url(url: str, secret: str) -> str:
    """``url`` with ``?secret=...`` appended; ``ConfigError`` for a URL that cannot work."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(
            f"--url {url!r} must be an http(s) URL such as https://HOST/webhooks/timelinesai"
        )
    query = parse_qsl(parts.query, keep_blank_values=True)
    if any(name == SECRET_PARAM for name, _ in query):
        raise ConfigError(
            "--url must not carry a secret: it is appended from OUTREACH_WEBHOOK_SECRET"
        )
    query.append((SECRET_PARAM, secret))
    return urlunsplit(parts._replace(query=urlencode(query)))


def hide_secret(url: str) -> str:
    """``url`` with the secret's value hidden, for display."""
    parts = urlsplit(url)
    query = "&".join(
        f"{SECRET_PARAM}={_HIDDEN}" if name == SECRET_PARAM else urlencode([(name, value)])
        for name, value in parse_qsl(parts.query, keep_blank_values=True)
    )
    return urlunsplit(parts._replace(query=query))


@dataclass
class Registration:
    """What ``register`` did, per event type."""

    created: list[Webhook] = field(default_factory=list)
    updated: list[Webhook] = field(default_factory=list)
    unchanged: list[Webhook] = field(default_factory=list)


def register(client: TimelinesAIClient, url: str) -> Registration:
    """Subscribe ``url`` (secret included) to every event type the engine uses."""
    existing = client.list_webhooks()
    result = Registration()
    for event_type in SUBSCRIBED_EVENT_TYPES:
        mine = [w for w in existing if w.event_type == event_type]
        exact = next((w for w in mine if w.url == url), None)
        if exact is not None:
            if exact.enabled:
                result.unchanged.append(exact)
            else:
                result.updated.append(client.update_webhook(exact.id, enabled=True))
            continue
        stale = next((w for w in mine if _endpoint(w.url) == _endpoint(url)), None)
        if stale is not None:
            result.updated.append(client.update_webhook(stale.id, url=url, enabled=True))
            continue
        result.created.append(client.create_webhook(event_type, url))
    return result


def _endpoint(url: str) -> tuple[str, str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc.lower(), parts.path.rstrip("/")
