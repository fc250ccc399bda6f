"""Fault injection through real HTTP, and what the client makes of each fault."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import pytest

from engine.timelinesai import (
    AccountBanned,
    InvalidRecipient,
    RateLimited,
    SendOutcomeUnknown,
    ServerError,
    SimAccount,
    SimulatorHandle,
    TimelinesAIClient,
)

Start = Callable[..., SimulatorHandle]
Connect = Callable[..., TimelinesAIClient]

LEAD = "+40712345678"
OURS = "+15550100001"


def test_reads_ride_out_server_errors(start_simulator: Start, sim_client: Connect) -> None:
    sim = start_simulator(error_rate=0.5)
    client = sim_client(sim)
    for _ in range(5):
        assert len(client.whatsapp_accounts()) == 3
    faults = [entry.fault for entry in sim.requests()]
    assert "error_rate" in faults


def test_a_send_answered_500_is_not_repeated(start_simulator: Start, sim_client: Connect) -> None:
    sim = start_simulator(error_rate=1.0)
    with pytest.raises(ServerError):
        sim_client(sim).send_message(phone=LEAD, text="Hi", from_phone=OURS)
    assert len(sim.requests()) == 1


def test_429_bursts_are_retried_within_the_call(
    start_simulator: Start, sim_client: Connect
) -> None:
    sim = start_simulator(burst_429_every=1, burst_429_length=2)
    client = sim_client(sim)
    client.send_message(phone=LEAD, text="Hi", from_phone=OURS)
    client.whatsapp_accounts()
    assert [(e.status_code, e.fault) for e in sim.requests()] == [
        (200, None),
        (429, "burst_429"),
        (429, "burst_429"),
        (200, None),
    ]


def test_the_simulated_rate_limit(start_simulator: Start, sim_client: Connect) -> None:
    sim = start_simulator(rate_limit_per_minute=3)
    client = sim_client(sim, retry_total_s=0)
    for _ in range(3):
        client.whatsapp_accounts()
    with pytest.raises(RateLimited):
        client.whatsapp_accounts()


@pytest.mark.parametrize("mode", ["stall", "drop"])
def test_a_send_recorded_but_not_answered_is_outcome_unknown(
    start_simulator: Start, sim_client: Connect, mode: str
) -> None:
    sim = start_simulator(timeout_after_record_rate=1.0, timeout_mode=mode, stall_s=30)
    client = sim_client(sim, timeout_s=0.5)
    started = time.monotonic()
    with pytest.raises(SendOutcomeUnknown) as raised:
        client.send_message(phone=LEAD, text="Hi Ana", from_phone=OURS)
    assert time.monotonic() - started < 5
    assert (raised.value.phone, raised.value.from_phone, raised.value.text) == (
        LEAD,
        OURS,
        "Hi Ana",
    )
    [entry] = sim.sends()
    assert entry.fault == f"timeout_after_record:{mode}"
    # Reconciling finds the message: it was recorded before the answer was lost.
    sim.configure(timeout_after_record_rate=0.0)
    [chat] = client.find_chats(phone=raised.value.phone)
    [message] = client.iter_chat_messages(chat.id, from_me=True)
    assert (message.text, message.uid) == ("Hi Ana", entry.message_uid)


def test_a_stalled_answer_does_not_hold_up_shutdown(start_simulator: Start) -> None:
    started = time.monotonic()
    sim = start_simulator(timeout_after_record_rate=1.0, stall_s=60)
    with sim.client(timeout_s=0.3) as client, pytest.raises(SendOutcomeUnknown):
        client.send_message(phone=LEAD, text="Hi", from_phone=OURS)
    assert time.monotonic() - started < 5


def test_only_sends_time_out(start_simulator: Start, sim_client: Connect) -> None:
    sim = start_simulator(timeout_after_record_rate=1.0)
    assert len(sim_client(sim, timeout_s=0.5).whatsapp_accounts()) == 3


def test_a_phone_banned_after_n_sends(start_simulator: Start, sim_client: Connect) -> None:
    sim = start_simulator(accounts=[SimAccount(phone=OURS, ban_after_sends=2)])
    client = sim_client(sim)
    client.send_message(phone=LEAD, text="1", from_phone=OURS)
    client.send_message(phone="+40712345679", text="2", from_phone=OURS)
    with pytest.raises(AccountBanned):
        client.send_message(phone="+40712345670", text="3", from_phone=OURS)
    [account] = client.whatsapp_accounts()
    assert not account.is_connected


def test_a_phone_disconnected_after_n_sends(start_simulator: Start, sim_client: Connect) -> None:
    sim = start_simulator(accounts=[SimAccount(phone=OURS, disconnect_after_sends=1)])
    client = sim_client(sim)
    client.send_message(phone=LEAD, text="1", from_phone=OURS)
    with pytest.raises(InvalidRecipient):
        client.send_message(phone=LEAD, text="2", from_phone=OURS)
    sim.set_account_status(OURS, "active")
    client.send_message(phone=LEAD, text="3", from_phone=OURS)


def test_latency(start_simulator: Start, sim_client: Connect) -> None:
    sim = start_simulator(latency_ms=[150, 200])
    started = time.monotonic()
    sim_client(sim).whatsapp_accounts()
    assert time.monotonic() - started >= 0.15
    [entry] = sim.requests()
    assert entry.answered_at is not None
    assert (entry.answered_at - entry.received_at).total_seconds() >= 0.15


def test_faults_change_at_runtime_and_reset_starts_over(
    start_simulator: Start, sim_client: Connect
) -> None:
    sim = start_simulator()
    client = sim_client(sim, retry_total_s=0)
    client.send_message(phone=LEAD, text="Hi", from_phone=OURS)
    assert sim.configure(error_rate=1.0)["error_rate"] == 1.0
    with pytest.raises(ServerError):
        client.whatsapp_accounts()
    sim.configure(error_rate=0.0)
    sim.reset()
    assert sim.requests() == []
    assert list(client.find_chats()) == []


@pytest.mark.parametrize(
    "changes", [{"accounts": []}, {"speed": 2}, {"error_rate": 2}, {"no_such_setting": 1}]
)
def test_runtime_changes_are_validated(start_simulator: Start, changes: dict[str, object]) -> None:
    sim = start_simulator()
    with pytest.raises(httpx.HTTPStatusError) as raised:
        sim.configure(**changes)
    assert raised.value.response.status_code == 400
