"""The enrollment state machine: every (from, to) pair, and every end with its reason."""

from __future__ import annotations

import itertools

import pytest

from engine.errors import OutreachError
from engine.models import EnrollmentState
from sequences import (
    END_STATES,
    RUNNING_STATES,
    EndReason,
    IllegalTransition,
    after_send,
    end,
    end_state,
)
from sequences import transition as move
from sequences.journey import hold, unpause

STATES = [state.value for state in EnrollmentState]
ALLOWED = {
    ("pending", "active"),
    ("pending", "replied"),
    ("pending", "opted_out"),
    ("pending", "invalid_number"),
    ("pending", "failed"),
    ("pending", "stopped"),
    ("active", "active"),
    ("active", "completed"),
    ("active", "replied"),
    ("active", "opted_out"),
    ("active", "invalid_number"),
    ("active", "failed"),
    ("active", "stopped"),
    ("pending", "paused"),
    ("active", "paused"),
    ("paused", "replied"),
    ("paused", "opted_out"),
    ("paused", "invalid_number"),
    ("paused", "failed"),
    ("paused", "stopped"),
    ("paused", "pending"),
    ("paused", "active"),
}


def test_the_states_partition_the_model() -> None:
    assert set(STATES) == RUNNING_STATES | END_STATES | {"paused"}
    assert not RUNNING_STATES & END_STATES
    assert "paused" not in RUNNING_STATES | END_STATES
    assert {"pending", "active"} == RUNNING_STATES


@pytest.mark.parametrize(("current", "target"), list(itertools.product(STATES, STATES)))
def test_every_pair(current: str, target: str) -> None:
    if (current, target) in ALLOWED:
        assert move(current, target) == target
        return
    with pytest.raises(IllegalTransition) as caught:
        move(current, target)
    assert (caught.value.current, caught.value.target) == (current, target)
    assert isinstance(caught.value, OutreachError)


@pytest.mark.parametrize(
    ("current", "target", "reason"),
    [
        ("completed", "active", "final"),
        ("replied", "replied", "final"),
        ("pending", "completed", "nothing was sent"),
        ("active", "pending", "never returns"),
        ("pending", "pending", "never returns"),
        ("paused", "completed", "a paused enrollment resumes or ends"),
        ("paused", "paused", "a paused enrollment resumes or ends"),
        ("held", "active", "'held' is not an enrollment state"),
        ("active", "done", "'done' is not an enrollment state"),
    ],
)
def test_refusals_say_why(current: str, target: str, reason: str) -> None:
    with pytest.raises(IllegalTransition, match=reason):
        move(current, target)


@pytest.mark.parametrize(
    ("reason", "state"),
    [
        (EndReason.SEQUENCE_COMPLETED, "completed"),
        (EndReason.REPLIED, "replied"),
        (EndReason.OPTED_OUT, "opted_out"),
        (EndReason.INVALID_NUMBER, "invalid_number"),
        (EndReason.PHONE_BANNED, "failed"),
        (EndReason.PHONE_OFFLINE, "failed"),
        (EndReason.SEND_FAILED, "failed"),
        (EndReason.STOPPED_BY_OPERATOR, "stopped"),
        (EndReason.MANUAL_TAKEOVER, "stopped"),
        (EndReason.COMPANY_REPLIED, "stopped"),
    ],
)
def test_every_reason_ends_in_a_final_state(reason: EndReason, state: str) -> None:
    assert end_state(reason) == state
    assert end("active", reason) == state


def test_every_end_state_has_a_reason() -> None:
    assert {end_state(reason) for reason in EndReason} == END_STATES


@pytest.mark.parametrize(("current", "reason"), list(itertools.product(STATES, EndReason)))
def test_ending_follows_the_transitions(current: str, reason: EndReason) -> None:
    if (current, end_state(reason)) in ALLOWED:
        assert end(current, reason) == end_state(reason)
    else:
        with pytest.raises(IllegalTransition):
            end(current, reason)


def test_every_reason_the_engine_ends_with_has_its_final_state() -> None:
    """The sender's own ends are reasons of the journey, each with its final state."""
    assert end_state(EndReason.UNKNOWN_SEQUENCE) == "failed"
    assert end_state(EndReason.MISSING_VARIABLE) == "failed"
    assert {end_state(reason) for reason in EndReason} <= END_STATES


def test_a_send_moves_on_or_completes_the_journey() -> None:
    assert after_send(last_step=False) == "active"
    assert after_send(last_step=True) == "completed"


def test_the_running_states_are_the_schemas_own() -> None:
    """The partial unique index of one running enrollment per lead is built from them."""
    from engine.models import Enrollment
    from engine.tables import use_postgresql

    use_postgresql()  # what a PostgreSQL engine does (engine.db)
    [index] = [
        i for i in Enrollment.__table__.indexes if i.name == "uq_enrollments_one_running_per_lead"
    ]  # type: ignore[attr-defined]
    where = str(index.dialect_options["postgresql"]["where"])
    assert all(f"'{state}'" in where for state in RUNNING_STATES)
    assert RUNNING_STATES.isdisjoint(END_STATES)


@pytest.mark.parametrize(
    ("current", "allowed"), [(state, state in RUNNING_STATES) for state in STATES]
)
def test_only_a_running_enrollment_pauses(current: str, allowed: bool) -> None:
    if allowed:
        assert hold(current) == "paused"
    else:
        with pytest.raises(IllegalTransition):
            hold(current)


@pytest.mark.parametrize(("sent", "state"), [(False, "pending"), (True, "active")])
def test_a_resumed_enrollment_runs_as_it_did(sent: bool, state: str) -> None:
    assert unpause("paused", sent=sent) == state


@pytest.mark.parametrize("current", ["pending", "active", "completed", "stopped"])
def test_only_a_paused_enrollment_resumes(current: str) -> None:
    with pytest.raises(IllegalTransition, match="only a paused enrollment"):
        unpause(current, sent=True)
