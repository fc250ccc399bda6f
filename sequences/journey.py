"""The enrollment state machine: every move a lead's journey may make, in one place.

::

    pending ──> active ──> active (next step) ──> completed
       │          │
       ├──────────┴──> replied | opted_out | invalid_number | failed | stopped
       │          │                ^
       └──────────┴──> paused ─────┘
                             │ (a person resumes it: back to pending or active)

An enrollment starts ``pending`` (step 0 not yet sent), becomes ``active`` with its
first send and stays ``active`` while it advances through the steps. Every end is
final and carries an :class:`EndReason`; ``completed`` needs at least one send, so
a pending enrollment can end any way but that one. ``paused`` holds a running
enrollment because a colleague at the lead's company replied (its ``end_reason`` says
why, its ``ended_at`` stays empty): nothing is sent or claimed, and it may still end,
or a person resumes it (:func:`unpause`) into the running state it had: ``pending`` if
nothing was sent yet, else ``active``.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from engine.states import END_STATES, RUNNING_STATES, EnrollmentState
from sequences.errors import IllegalTransition

__all__ = [
    "END_STATES",
    "RUNNING_STATES",
    "EndReason",
    "after_send",
    "end",
    "end_state",
    "hold",
    "transition",
    "unpause",
]

_S = EnrollmentState


_ALLOWED: Final[Mapping[str, frozenset[str]]] = MappingProxyType(
    {
        _S.PENDING.value: frozenset({_S.ACTIVE.value, _S.PAUSED.value})
        | (END_STATES - {_S.COMPLETED.value}),
        _S.ACTIVE.value: frozenset({_S.ACTIVE.value, _S.PAUSED.value}) | END_STATES,
        _S.PAUSED.value: frozenset({_S.PENDING.value, _S.ACTIVE.value})
        | (END_STATES - {_S.COMPLETED.value}),
    }
)


class EndReason(StrEnum):
    """Why an enrollment ended; stored in ``enrollments.end_reason``."""

    SEQUENCE_COMPLETED = "sequence_completed"
    REPLIED = "replied"
    OPTED_OUT = "opted_out"
    INVALID_NUMBER = "invalid_number"
    PHONE_BANNED = "phone_banned"
    PHONE_OFFLINE = "phone_offline"
    SEND_FAILED = "send_failed"
    STOPPED_BY_OPERATOR = "stopped_by_operator"
    MANUAL_TAKEOVER = "manual_takeover"
    UNKNOWN_SEQUENCE = "unknown_sequence"
    MISSING_VARIABLE = "missing_variable"
    SUPPRESSED = "suppressed"
    FORGOTTEN = "forgotten"
    COMPANY_REPLIED = "company_replied"


_END_STATE: Final[Mapping[EndReason, str]] = MappingProxyType(
    {
        EndReason.SEQUENCE_COMPLETED: _S.COMPLETED.value,
        EndReason.REPLIED: _S.REPLIED.value,
        EndReason.OPTED_OUT: _S.OPTED_OUT.value,
        EndReason.INVALID_NUMBER: _S.INVALID_NUMBER.value,
        # The chat lives on the banned number, so its follow-ups cannot move to another
        # phone: once the number has not come back for a while, the journey has failed.
        EndReason.PHONE_BANNED: _S.FAILED.value,
        # The same for a number offline too long: TimelinesAI reports a ban as merely
        # disconnected (phones.states.grace_end).
        EndReason.PHONE_OFFLINE: _S.FAILED.value,
        EndReason.SEND_FAILED: _S.FAILED.value,
        EndReason.STOPPED_BY_OPERATOR: _S.STOPPED.value,
        # A person now talks to the lead; the engine must not write again.
        EndReason.MANUAL_TAKEOVER: _S.STOPPED.value,
        # The sequence was removed from the config, or the lead lacks a variable a step
        # needs without a fallback: the journey cannot go on, visibly.
        EndReason.UNKNOWN_SEQUENCE: _S.FAILED.value,
        EndReason.MISSING_VARIABLE: _S.FAILED.value,
        # The number was put on the do-not-contact list by hand, or the lead's data
        # erased (``leads forget``): the engine must not write again.
        EndReason.SUPPRESSED: _S.STOPPED.value,
        EndReason.FORGOTTEN: _S.STOPPED.value,
        # A colleague at the lead's company replied and the sequence says ``stop``
        # (``pause`` holds it instead: :func:`hold`).
        EndReason.COMPANY_REPLIED: _S.STOPPED.value,
    }
)


def transition(current: str, target: str) -> str:
    """``target`` if an enrollment in ``current`` may move there; else :class:`IllegalTransition`.

    ``active -> active`` is the move to the next step.
    """
    allowed = _ALLOWED.get(current)
    if allowed is not None and target in allowed:
        return target
    if current in END_STATES:
        reason = "it has ended, and an end is final"
    elif current == _S.PAUSED.value:
        reason = "a paused enrollment resumes or ends, and a completed sequence needs its sends"
    elif current not in RUNNING_STATES:
        reason = f"{current!r} is not an enrollment state"
    elif target not in RUNNING_STATES | END_STATES | {_S.PAUSED.value}:
        reason = f"{target!r} is not an enrollment state"
    elif target == _S.PENDING.value:
        reason = "an enrollment is pending only until its first send and never returns there"
    else:  # pending -> completed: the one end a pending enrollment cannot reach
        reason = "nothing was sent yet, so the sequence cannot be complete"
    raise IllegalTransition(current, target, reason)


def end_state(reason: EndReason) -> str:
    """The final state an enrollment ending for ``reason`` lands in."""
    return _END_STATE[reason]


def after_send(*, last_step: bool) -> str:
    """Where a running enrollment goes once a step is sent: on, or done after the last.

    A one-step sequence goes from ``pending`` to ``completed`` in that one move (its
    send is the first and the last); the send path records both at once.
    """
    return _S.COMPLETED.value if last_step else _S.ACTIVE.value


def hold(current: str) -> str:
    """The state a running enrollment is held in when a colleague at its lead's
    company replies (reason :attr:`EndReason.COMPANY_REPLIED`); else :class:`IllegalTransition`."""
    return transition(current, _S.PAUSED.value)


def unpause(current: str, *, sent: bool) -> str:
    """The running state a paused enrollment goes back to when a person resumes it:
    ``active`` once a step of it was sent (``sent``), else ``pending``; a state that is
    not ``paused`` raises :class:`IllegalTransition`."""
    target = _S.ACTIVE.value if sent else _S.PENDING.value
    if current != _S.PAUSED.value:
        raise IllegalTransition(current, target, "only a paused enrollment is resumed")
    return transition(current, target)


def end(current: str, reason: EndReason) -> str:
    """The final state for ending an enrollment in ``current`` for ``reason``.

    Raises :class:`IllegalTransition` if it has already ended, or for
    ``sequence_completed`` while still pending.
    """
    return transition(current, end_state(reason))
