"""Tracing benchmark: what one span costs with tracing off, and, for scale, on.

Off (the default) every ``tracing.span(...)`` returns one shared no-op context manager;
this times, per call, the same shapes the send path uses: a span with three
attributes whose outcome is set later, a continued span read from a message's options,
and the trace options added to an enqueue. Against it: an empty ``with`` of a
pre-built no-op (the floor of any context manager) and an empty loop. On: the same
span recorded by the OpenTelemetry SDK into a processor that drops it (no export), to
show what turning tracing on costs before the network.

A send opens six spans (dispatcher.enqueue, worker.handle, send.read, send.claim,
timelinesai.request, send.record) and adds the options once: the per-send figure is
six spans plus one options call.

    .venv/bin/python bench/tracing.py [--calls 1000000] [--rounds 5]

Prints the median of ``--rounds`` rounds of ``--calls`` calls, in nanoseconds of CPU time
per call (CPU time, so other work on a shared machine weighs less).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine import tracing  # noqa: E402

SPANS_PER_SEND = 6


def per_call_ns(body: Callable[[int], None], calls: int, rounds: int) -> float:
    """The median over ``rounds`` of ``body(calls)``'s time per call, in ns."""
    timings = []
    for _ in range(rounds):
        started = time.process_time_ns()
        body(calls)
        timings.append((time.process_time_ns() - started) / calls)
    return statistics.median(timings)


def empty_loop(calls: int) -> None:
    for _ in range(calls):
        pass


def bare_with(calls: int) -> None:
    nothing = nullcontext()
    for _ in range(calls):
        with nothing:
            pass


def send_span(calls: int) -> None:
    for n in range(calls):
        with tracing.span("send.claim", phone_id="01", enrollment_id=n, step=1) as span:
            span.set(outcome="sent")


def continued_span(calls: int) -> None:
    options = {"retries": 0}
    for n in range(calls):
        with tracing.continued(options, "worker.handle", phone_id="01", enrollment_id=n, step=1):
            pass


def enqueue_options(calls: int) -> None:
    for _ in range(calls):
        dict(**tracing.message_options())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    calls, rounds = args.calls, args.rounds
    assert not tracing.enabled()
    figures = {
        "empty loop": per_call_ns(empty_loop, calls, rounds),
        "with nullcontext() (floor)": per_call_ns(bare_with, calls, rounds),
        "off: span(3 attributes) + set": per_call_ns(send_span, calls, rounds),
        "off: continued(options, ...)": per_call_ns(continued_span, calls, rounds),
        "off: message_options()": per_call_ns(enqueue_options, calls, rounds),
    }
    loaded = sorted(n for n in sys.modules if n.split(".")[0] == "opentelemetry")
    off_send = (
        figures["off: span(3 attributes) + set"] * (SPANS_PER_SEND - 1)
        + figures["off: continued(options, ...)"]
        + figures["off: message_options()"]
        - figures["empty loop"] * (SPANS_PER_SEND + 1)
    )
    from opentelemetry.sdk.trace import SpanProcessor, TracerProvider

    provider = TracerProvider()
    provider.add_span_processor(SpanProcessor())  # records, exports nothing
    tracing.install(provider)
    on_calls = max(1, calls // 20)
    figures["on (SDK, no export): span(3 attributes) + set"] = per_call_ns(
        send_span, on_calls, rounds
    )
    tracing.reset()
    for name, ns in figures.items():
        print(f"{name:50s} {ns:8.0f} ns/call")
    print(f"{'off: one send (6 spans + options), loop removed':50s} {off_send:8.0f} ns/send")
    print(f"opentelemetry modules loaded while off: {len(loaded)} ({', '.join(loaded) or 'none'})")


if __name__ == "__main__":
    main()
