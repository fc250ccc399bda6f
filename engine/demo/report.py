"""The demo's verdict, judged from the outside: the simulator's request log and webhooks.

Pacing, overlaps, quotas and duplicates come from :mod:`engine.invariants`. "No step
claimed after a reply" compares each send's arrival at the simulator with the moment
the receiver answered that lead's reply webhook 200: only a step the reply found in
flight (claimed before it, recorded on the reply) may arrive later. "Every lead in a
named end state" is read from the database: no enrollment may still be pending or
active.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from engine.invariants import InvariantReport, Send, sends_after_replies
from engine.states import RUNNING_STATES

RUNNING = tuple(sorted(RUNNING_STATES))
REPLY_EVENT = "message:received:new"


@dataclass
class DemoReport:
    """What the run did and whether every invariant held."""

    invariants: InvariantReport
    states: dict[str, int]
    steps: dict[int, int]
    replies: int
    followups_after_reply: list[str] = field(default_factory=list)
    imported: int = 0
    rejected: int = 0
    finished: bool = True
    elapsed_s: float = 0.0
    virtual_days: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def unfinished(self) -> int:
        return sum(self.states.get(state, 0) for state in RUNNING)

    @property
    def ok(self) -> bool:
        return (
            self.invariants.ok
            and not self.followups_after_reply
            and self.unfinished == 0
            and self.finished
        )

    def lines(self) -> list[str]:
        """The report as plain lines, the verdict last."""
        inv = self.invariants
        sends = ", ".join(f"step {k + 1}: {v}" for k, v in sorted(self.steps.items()))
        ends = ", ".join(f"{k} {v}" for k, v in sorted(self.states.items()))
        mark = {True: "ok  ", False: "FAIL"}
        gap = "-" if inv.min_gap_s is None else f"{inv.min_gap_s:.1f}s"
        checks = [
            (inv.overlaps == 0, f"no overlapping sends per phone ({inv.overlaps} overlaps)"),
            (inv.short_gaps == 0, f"gaps at least the jitter minimum (smallest {gap} virtual)"),
            (inv.quota_overruns == 0, f"daily quotas held ({inv.quota_overruns} over)"),
            (inv.duplicates == 0, f"no step sent twice to a lead ({inv.duplicates} duplicates)"),
            (
                not self.followups_after_reply,
                f"no step claimed after a reply was answered "
                f"({len(self.followups_after_reply)} of {self.replies} replies)",
            ),
            (
                self.unfinished == 0 and self.finished,
                f"every lead in a named end state ({self.unfinished} still running)",
            ),
        ]
        return [
            f"leads: {self.imported} imported, {self.rejected} rejected at import",
            f"sends accepted by the simulator: {inv.sends} ({sends or 'none'})",
            f"end states: {ends or 'none'}",
            f"run: {self.elapsed_s:.1f}s real, {self.virtual_days:.1f} virtual days",
            *self.notes,
            *(f"[{mark[good]}] {text}" for good, text in checks),
            *(f"  {problem}" for problem in inv.problems[:5]),
            *(f"  {problem}" for problem in self.followups_after_reply[:5]),
            "invariants held" if self.ok else "INVARIANTS BROKEN",
        ]


def reply_moments(deliveries: list[dict[str, Any]]) -> dict[str, datetime]:
    """Each lead's first reply webhook that the receiver answered 200, by the lead's number."""
    moments: dict[str, datetime] = {}
    for delivery in deliveries:
        if delivery.get("event_type") != REPLY_EVENT or delivery.get("status_code") != 200:
            continue
        chat = delivery.get("body", {}).get("chat") or {}
        phone = chat.get("phone")
        if not phone:
            continue
        at = datetime.fromisoformat(str(delivery["finished_at"]))
        if phone not in moments or at < moments[phone]:
            moments[phone] = at
    return moments


def build_report(
    invariants: InvariantReport,
    sends: list[Send],
    deliveries: list[dict[str, Any]],
    states: dict[str, int],
    in_flight: Collection[tuple[str, int]] = (),
) -> DemoReport:
    """Judge the run; the caller adds the import figures, timings and notes.

    ``in_flight``: the (lead, step) sends the replies found in flight.
    """
    replied = reply_moments(deliveries)
    after = sends_after_replies(sends, replied, in_flight)
    steps = Counter(send.step for send in sends)
    return DemoReport(
        invariants=invariants,
        states=dict(states),
        steps=dict(steps),
        replies=len(replied),
        followups_after_reply=after,
    )
