"""A breaker per phone: a phone whose health says WhatsApp may soon ban it stops for a while.

Pure: :func:`breaker_verdict` takes one phone's breaker state, its health read from its
last trip on (:func:`phones.health.assess` with ``since``), what became of its probe,
``now`` and ``[breaker]``, and answers what happens next. The round is

    active --trip--> cooling --time is up--> half_open --one claim--> probing
    probing --the probe went out--> active;  probing --refused as invalid--> cooling

A trip is a threshold crossed (:func:`trip_reason`); the cooling doubles with each trip
that follows the one before within ``repeat_within_h`` (:func:`cooling_span`). Only the
history after a trip counts towards the next, so old failures cannot trip the phone
again and again, and a phone with too little new history is not judged.

In ``half_open`` the dispatcher hands the phone one first message, and the claim that
takes it moves the phone to ``probing`` in the same conditional UPDATE that holds it, so
no second send of it can start (:mod:`engine.storage.statements`). The probe succeeds
when TimelinesAI accepts it (its message is recorded). Its delivery is not waited for:
that takes hours to learn (``[health] stuck_after_h``) while the phone would sit idle,
and the delivery rule still watches the phone's fresh history after it closes, so a
phone whose messages still do not arrive trips again, for twice as long. A probe
refused as an invalid number trips the phone again at once; one that never went out (a
transient error, a lead who replied first) gives the turn to another first message once
``probe_timeout_min`` passed and nothing of the phone is being sent. A phone left
``half_open`` that long had nothing to probe with (its campaigns are down to follow-ups,
which a half-open phone does not send): it closes, and its fresh history is judged as
any active phone's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from engine.settings import BreakerSettings, HealthSettings
from engine.states import PhoneState
from phones.health import PhoneHealth

__all__ = [
    "BreakerPhone",
    "Close",
    "HalfOpen",
    "Probe",
    "Trip",
    "Verdict",
    "breaker_verdict",
    "cooling_span",
    "may_send",
    "trip_reason",
]


@dataclass(frozen=True)
class BreakerPhone:
    """What the breaker keeps of a phone (its row): its state, since when, its trips."""

    id: str
    state: str
    state_changed_at: datetime | None = None
    trips: int = 0
    tripped_at: datetime | None = None
    cooling_until: datetime | None = None


@dataclass(frozen=True)
class Probe:
    """What became of the first message claimed while the phone was ``half_open``:
    ``sent`` TimelinesAI accepted it, ``refused`` its number was invalid, ``in_flight``
    a step of the phone is still being sent."""

    sent: bool = False
    refused: bool = False
    in_flight: bool = False


@dataclass(frozen=True)
class Trip:
    """The phone cools until ``until``; ``trips`` it has now (this one included)."""

    reason: str
    until: datetime
    trips: int

    def message(self, phone_id: str, now: datetime) -> str:
        """The alert's text: ``phone 03 cooling for 30 min: 3 of its last 20 ...``, and
        how it comes back."""
        return (
            f"phone {phone_id} cooling for {_span(self.until - now)}: {self.reason} (one "
            f"probe send reopens it; `outreach phones resume {phone_id}` does so at once)"
        )


@dataclass(frozen=True)
class HalfOpen:
    """The cooling is over (or a probe never went out): one first message may go."""


@dataclass(frozen=True)
class Close:
    """The phone is active again (its trips are kept for doubling): its probe went out,
    or nothing came to probe it with (``reason``)."""

    reason: str = "its probe went out"


Verdict = Trip | HalfOpen | Close


def may_send(phone_state: str | None, step: int) -> bool:
    """May a step (0: a first message) go out from a phone in ``phone_state``? An active
    phone sends anything; a half-open one only its probe, a first message."""
    if phone_state == PhoneState.ACTIVE:
        return True
    return phone_state == PhoneState.HALF_OPEN and step == 0


def breaker_verdict(
    phone: BreakerPhone, health: PhoneHealth | None, probe: Probe, now: datetime, *,
    settings: BreakerSettings, windows: HealthSettings,
) -> Verdict | None:  # fmt: skip
    """What happens to ``phone`` at ``now``; ``None``: nothing. ``health`` is read from
    its last trip on; see the module doc."""
    if phone.state == PhoneState.ACTIVE:
        if not settings.enabled or health is None:
            return None
        reason = trip_reason(health, settings, windows)
        return None if reason is None else _trip(phone, reason, now, settings)
    if phone.state == PhoneState.COOLING:
        if phone.cooling_until is None or phone.cooling_until <= now:
            return HalfOpen()
        return None
    if phone.state == PhoneState.HALF_OPEN:
        # No claim took a probe in all that time: the phone has no first message to send
        # (its campaigns are down to follow-ups, which would otherwise wait for ever).
        # Its history restarted at the trip, so its next sends are judged afresh.
        timeout = timedelta(minutes=settings.probe_timeout_min)
        changed = phone.state_changed_at
        if changed is not None and changed + timeout <= now:
            return Close(f"nothing came to probe it with in {_span(timeout)}")
        return None
    if phone.state == PhoneState.PROBING:
        if probe.refused:
            return _trip(phone, "its probe's number was invalid", now, settings)
        if probe.sent:
            return Close()
        started = phone.state_changed_at
        timeout = timedelta(minutes=settings.probe_timeout_min)
        if not probe.in_flight and (started is None or started + timeout <= now):
            return HalfOpen()
    return None


def trip_reason(
    health: PhoneHealth, settings: BreakerSettings, windows: HealthSettings
) -> str | None:
    """Why ``health`` trips the breaker (the first threshold crossed); ``None`` if not.

    The delivery rule needs a full window of first messages with an outcome and the
    opt-out rule ``min_replies`` replies: a few unlucky rows are not a pattern.
    """
    rate = health.delivered_rate
    full = health.first_messages >= windows.first_messages
    if full and rate is not None and rate < settings.min_delivered_rate:
        return (
            f"only {health.delivered} of its last {health.first_messages} first messages "
            f"were delivered (under {settings.min_delivered_rate:.0%})"
        )
    if health.invalid >= settings.max_invalid:
        return f"{health.invalid} of its last {health.sends} numbers were invalid"
    opt_outs = health.opt_out_rate
    enough = health.replies >= settings.min_replies
    if enough and opt_outs is not None and opt_outs > settings.max_opt_out_rate:
        return (
            f"{health.opt_outs} of its last {health.replies} replies opted out "
            f"(over {settings.max_opt_out_rate:.0%})"
        )
    return None


def cooling_span(trips_before: int, settings: BreakerSettings) -> timedelta:
    """How long a phone cools after ``trips_before`` recent trips: ``cooling_min``,
    doubled for each, at most ``max_cooling_h``."""
    cap = timedelta(hours=settings.max_cooling_h)
    # Doubling past the cap is pointless; bounding the exponent keeps the number small.
    doubled = timedelta(minutes=settings.cooling_min * 2 ** min(trips_before, 32))
    return min(doubled, cap)


def _trip(phone: BreakerPhone, reason: str, now: datetime, settings: BreakerSettings) -> Trip:
    """A trip at ``now``; the trips before count only if the last was recent."""
    recent = phone.tripped_at is not None and now - phone.tripped_at <= timedelta(
        hours=settings.repeat_within_h
    )
    before = phone.trips if recent else 0
    return Trip(reason, now + cooling_span(before, settings), before + 1)


def _span(span: timedelta) -> str:
    minutes = round(span.total_seconds() / 60)
    if minutes < 120:
        return f"{minutes} min"
    return f"{minutes / 60:g} h"
