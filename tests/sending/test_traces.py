"""Traces of a send: one trace from the dispatcher's enqueue through the worker's fetch,
claim, API call and record (real Redis, a real Dramatiq worker, SQLite, the simulator);
with tracing off, a send loads no OpenTelemetry at all."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.sending.traced_send import LEAD, send_through_the_worker

ROOT = Path(__file__).resolve().parents[2]


def test_one_send_is_one_trace_from_the_enqueue_to_the_record(
    recorded_spans: Any, redis_namespace: str, tmp_path: Path
) -> None:
    enrollment_id = send_through_the_worker(redis_namespace, tmp_path)
    spans = recorded_spans.get_finished_spans()
    by_name = {span.name: span for span in spans}
    enqueue, handle = by_name["dispatcher.enqueue"], by_name["worker.handle"]
    claim, call = by_name["send.claim"], by_name["timelinesai.request"]
    record = by_name["send.record"]
    # The enqueue starts the trace (linked to the pass, a trace of its own).
    assert enqueue.parent is None
    assert [link.context.span_id for link in enqueue.links] == [
        by_name["dispatcher.pass"].context.span_id
    ]
    assert by_name["dispatcher.pass"].context.trace_id != enqueue.context.trace_id
    # The worker continues it across Redis; the claim, the call and the record are its own.
    assert handle.parent is not None and handle.parent.span_id == enqueue.context.span_id
    for child in (claim, call, record):
        assert child.parent is not None and child.parent.span_id == handle.context.span_id
    trace_id = enqueue.context.trace_id
    assert {s.name for s in spans if s.context.trace_id == trace_id} >= {
        "dispatcher.enqueue", "worker.handle", "send.read", "send.claim",
        "timelinesai.request", "send.record",
    }  # fmt: skip
    # Ids a person reads (step from 1), the outcome; the HTTP exchange by method and path.
    assert dict(enqueue.attributes) == {
        "queue": "phone_01", "enrollment_id": enrollment_id, "step": 1
    }  # fmt: skip
    assert handle.attributes["phone_id"] == "01"
    assert handle.attributes["enrollment_id"] == enrollment_id
    assert handle.attributes["step"] == 1
    assert handle.attributes["outcome"] == "sent"
    assert dict(call.attributes) == {
        "http.request.method": "POST", "url.path": "/messages", "http.response.status_code": 200
    }  # fmt: skip
    # No lead's number and no message text in any span.
    for span in spans:
        for value in span.attributes.values():
            assert LEAD.lstrip("+") not in str(value)
            assert "question" not in str(value)


# The libraries of the send path and the simulator. redis-py 8 and FastAPI load parts of
# OpenTelemetry on import whenever it is installed (for instrumentation of their own,
# off unless asked for): a send may load those and nothing else.
LIBRARIES = "dramatiq, fastapi, httpx, redis, sqlalchemy, sqlmodel, uvicorn"


def test_with_tracing_off_a_send_loads_no_opentelemetry_of_its_own(
    redis_namespace: str, tmp_path: Path
) -> None:
    # Fresh interpreters: this one has the SDK loaded for the other tests.
    done = subprocess.run(
        [sys.executable, "-m", "tests.sending.traced_send", redis_namespace, str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    loaded_by_a_send = set(done.stdout.split())
    import_libraries = (
        f"import sys, {LIBRARIES}; "
        "print(' '.join(n for n in sys.modules if n.split('.')[0] == 'opentelemetry'))"
    )
    done = subprocess.run(
        [sys.executable, "-c", import_libraries], cwd=ROOT, capture_output=True, text=True,
        timeout=60, check=True,
    )  # fmt: skip
    loaded_by_libraries = set(done.stdout.split())
    assert "engine.tracing.otel" not in loaded_by_a_send
    assert not any(name.startswith("opentelemetry.sdk.trace") for name in loaded_by_a_send)
    assert sorted(loaded_by_a_send - loaded_by_libraries) == []
