"""An API outage longer than the retry budget makes no dead letters and no double sends.

The real dispatcher and sender on both databases against the simulator, driven round by
round on a fake clock: each round the dispatcher queues what is due and every queued
message is worked once, the way a worker would (an API error raised out of the send is
a Dramatiq retry, ``last_try`` on the last one; a put-back comes again next round). The
simulator answers every request with a 500 for a quarter of an hour, twice: during the
first messages, and during the follow-ups after one lead replied.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from sqlmodel import select

from engine.dispatcher import Dispatcher
from engine.models import Alert, Enrollment
from engine.sending.outcome import PutBack
from engine.states import API_OUTAGE, API_RECOVERED, DEAD_LETTER
from engine.timelinesai import TimelinesAIError
from sequences import compiled_sequences
from tests.sending.conftest import Harness
from tests.sending.test_dispatcher import Recorder, enroll

ROUND_S = 60.0
OUTAGE_ROUNDS = 15  # 15 virtual minutes of 500s: far more failures than 3 retries


@dataclass
class Driver:
    """Plays the scheduler and the workers for the harness's sender."""

    harness: Harness
    dispatcher: Dispatcher
    recorder: Recorder
    queued: list[tuple[str, int, int, int, int]] = field(default_factory=list)
    retries_exhausted: int = 0

    def run(self, rounds: int) -> None:
        max_retries = self.harness.settings.worker.max_retries
        for _ in range(rounds):
            self.dispatcher.run_once(self.harness.clock.now())
            self.queued += [(q, e, s, d, 0) for q, e, s, d in self.recorder.sent]
            self.recorder.sent.clear()
            work, self.queued = self.queued, []
            for queue, eid, step, dispatch, retries in work:
                phone_id = queue.removeprefix("phone_")[:2]
                try:
                    outcome = self.harness.send(
                        eid, step, phone_id, dispatch_id=dispatch,
                        last_try=retries >= max_retries,
                    )  # fmt: skip
                except TimelinesAIError:
                    if retries >= max_retries:
                        self.retries_exhausted += 1  # Dramatiq gives the message up
                    else:
                        self.queued.append((queue, eid, step, dispatch, retries + 1))
                    continue
                if isinstance(outcome, PutBack):
                    self.queued.append((queue, eid, step, dispatch, retries))
            self.harness.clock.advance(ROUND_S)

    def outage(self) -> None:
        self.harness.sim.configure(error_rate=1.0)
        self.run(OUTAGE_ROUNDS)
        self.harness.sim.configure(error_rate=0.0)


def sent_by_lead_and_step(harness: Harness) -> Counter[tuple[str, str]]:
    """What the simulator took (200s), by recipient and the step's wording."""
    return Counter(
        (r.recipient_phone or "", "follow" if r.text.startswith("Following") else "first")
        for r in harness.sim.sends()
        if r.status_code == 200
    )


def alert_kinds(harness: Harness) -> Counter[str]:
    with harness.database.session() as session:
        return Counter(alert.kind for alert in session.exec(select(Alert)))


def test_an_outage_longer_than_the_retries_makes_no_dead_letter(harness: Harness) -> None:
    settings, database = harness.settings, harness.database
    recorder = Recorder()
    dispatcher = Dispatcher(settings, compiled_sequences(settings), database, recorder)
    ids = enroll(database, 6, due_before_s=0)  # quota 3 a day on each of 2 phones
    driver = Driver(harness, dispatcher, recorder)

    driver.outage()
    failed_calls = [r for r in harness.sim.sends() if r.status_code == 500]
    assert len(failed_calls) > settings.worker.max_retries + 1
    # Paused, not hammering: after the trip, one probe per back-off (60, 120, 240, 480 s
    # fit in the 15 minutes), never two at once.
    assert len(failed_calls) <= settings.timelinesai.outage_after + 4
    driver.run(30)
    firsts = sent_by_lead_and_step(harness)
    assert len(firsts) == 6
    assert set(firsts.values()) == {1}

    with database.session() as session:
        rows = {e.id: e for e in session.exec(select(Enrollment))}
        replied = rows[ids[0]]
        replied.state = "replied"  # as the webhook records a reply
        session.add(replied)
    harness.clock.advance(days=2)
    driver.outage()
    driver.run(30)

    sent = sent_by_lead_and_step(harness)
    assert set(sent.values()) == {1}  # no step sent twice
    with database.session() as session:
        rows = {e.id: e for e in session.exec(select(Enrollment))}
    followed = {phone for phone, wording in sent if wording == "follow"}
    assert len(followed) == 5
    assert "+40712000000" not in followed  # the lead who replied (enroll's first number)
    assert all(row.step_state != "failed" for row in rows.values())
    assert {row.state for eid, row in rows.items() if eid != ids[0]} == {"completed"}
    assert driver.retries_exhausted == 0
    kinds = alert_kinds(harness)
    assert kinds[DEAD_LETTER] == 0
    assert (kinds[API_OUTAGE], kinds[API_RECOVERED]) == (2, 2)  # one line each, no flood


def test_a_lone_step_failing_all_its_tries_in_an_outage_waits(harness: Harness) -> None:
    # One lead: its four tries are the only calls, four failures in a row, one short of a
    # trip: its last try must not make a dead letter (nothing went through since its first).
    settings, database = harness.settings, harness.database
    recorder = Recorder()
    dispatcher = Dispatcher(settings, compiled_sequences(settings), database, recorder)
    enroll(database, 1, due_before_s=0)
    driver = Driver(harness, dispatcher, recorder)
    driver.outage()
    driver.run(30)
    assert alert_kinds(harness)[DEAD_LETTER] == 0
    assert driver.retries_exhausted == 0
    assert len([r for r in harness.sim.sends() if r.status_code == 500]) > 4
    assert sent_by_lead_and_step(harness) == {("+40712000000", "first"): 1}
