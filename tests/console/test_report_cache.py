"""The funnels kept in memory: computed once, refreshed in the background only when the
data moved, one computation at a time, forgotten after an action."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta

import pytest

from console.report_cache import ReportCache
from engine.clock import FakeClock


class Setup:
    def __init__(self, max_age_s: float = 10.0) -> None:
        self.clock = FakeClock()
        self.version = "v1"
        self.seconds = 0.0
        self.queued: list[Callable[[], None]] = []
        self.computed = 0
        self.cache = ReportCache(
            self.clock, lambda: self.version, max_age_s=max_age_s, run=self.queued.append,
            monotonic=lambda: self.seconds,
        )  # fmt: skip

    def compute(self) -> int:
        self.computed += 1
        return self.computed

    def later(self, seconds: float) -> None:
        self.seconds += seconds
        self.clock.advance(seconds)

    def run_queued(self) -> None:
        work, self.queued[:] = list(self.queued), []
        for job in work:
            job()


def test_a_report_is_computed_once_then_served_from_memory() -> None:
    s = Setup()
    first = s.cache.get("all", s.compute)
    assert (first.value, s.computed) == (1, 1)
    s.later(9)
    assert s.cache.get("all", s.compute).value == 1
    assert s.computed == 1 and s.queued == []


def test_an_old_report_is_answered_at_once_and_refreshed_in_the_background() -> None:
    s = Setup()
    s.cache.get("all", s.compute)
    s.later(10)
    s.version = "v2"
    assert s.cache.get("all", s.compute).value == 1  # no wait for the new one
    assert s.cache.get("all", s.compute).value == 1
    assert len(s.queued) == 1  # one refresh in flight, however many ask
    s.run_queued()
    kept = s.cache.get("all", s.compute)
    assert (kept.value, kept.version, kept.as_of) == (2, "v2", s.clock.now())


def test_nothing_is_recomputed_while_the_data_stands_still() -> None:
    s = Setup()
    s.cache.get("all", s.compute)
    s.later(60)
    s.cache.get("all", s.compute)
    s.run_queued()
    kept = s.cache.get("all", s.compute)
    assert s.computed == 1
    assert kept.as_of == s.clock.now()  # checked now: current as of now


def test_after_an_action_the_next_page_computes_afresh_and_an_older_refresh_is_dropped() -> None:
    s = Setup()
    s.cache.get("all", s.compute)
    s.later(10)
    s.version = "v2"
    s.cache.get("all", s.compute)  # a refresh begins...
    s.cache.clear()  # ...an action is done...
    assert s.cache.get("all", s.compute).value == 2  # the page after it computes
    s.run_queued()  # the refresh begun before the action finishes: it is not kept
    assert s.cache.get("all", s.compute).value == 2


def test_a_failed_refresh_keeps_the_report_and_a_later_one_tries_again() -> None:
    s = Setup()
    s.cache.get("all", s.compute)
    s.later(10)
    s.version = "v2"

    def broken() -> int:
        raise RuntimeError("database gone")

    s.cache.get("all", broken)
    s.run_queued()
    assert s.cache.get("all", s.compute).value == 1
    s.run_queued()
    assert s.cache.get("all", s.compute).value == 2


def test_with_no_age_every_request_computes() -> None:
    s = Setup(max_age_s=0)
    assert [s.cache.get("all", s.compute).value for _ in range(3)] == [1, 2, 3]


def test_reports_are_kept_apart_by_key() -> None:
    s = Setup()
    assert s.cache.get(("campaign", "a"), lambda: "a").value == "a"
    assert s.cache.get(("campaign", "b"), lambda: "b").value == "b"


@pytest.mark.timeout(10)
def test_people_opening_a_page_together_wait_for_one_computation() -> None:
    s = Setup()
    release = threading.Event()
    calls: list[int] = []

    def slow() -> int:
        calls.append(1)
        release.wait(5)
        return 7

    results: list[int] = []
    threads = [
        threading.Thread(target=lambda: results.append(s.cache.get("all", slow).value))
        for _ in range(5)
    ]
    for thread in threads:
        thread.start()
    release.set()
    for thread in threads:
        thread.join()
    assert results == [7] * 5 and len(calls) == 1
    assert timedelta(0) == s.clock.now() - s.cache.get("all", slow).as_of
