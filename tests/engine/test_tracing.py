"""The tracing seam: off it is one shared no-op; on, spans nest, new traces link to the
span that started them, a message's options carry a trace across processes, failures
keep only their type; ``[telemetry]`` is checked when the config loads, and an endpoint
without the extra is one line."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from engine import tracing
from engine.errors import ConfigError
from engine.settings import TelemetrySettings, load_settings


def test_off_every_span_is_one_shared_no_op() -> None:
    assert not tracing.enabled()
    with tracing.span("a", phone_id="01") as span:
        span.set(outcome="sent")
    assert tracing.span("a") is tracing.new_trace("b") is tracing.continued({}, "c")
    assert tracing.message_options() == {}


def test_spans_nest_and_a_new_trace_links_to_the_span_that_started_it(
    recorded_spans: Any,
) -> None:
    with tracing.span("pass"), tracing.new_trace("enqueue", step=1), tracing.span("inner"):
        pass
    spans = {span.name: span for span in recorded_spans.get_finished_spans()}
    passed, enqueue, inner = spans["pass"], spans["enqueue"], spans["inner"]
    assert enqueue.parent is None
    assert enqueue.context.trace_id != passed.context.trace_id
    assert [link.context.span_id for link in enqueue.links] == [passed.context.span_id]
    assert inner.parent is not None and inner.parent.span_id == enqueue.context.span_id
    assert dict(enqueue.attributes) == {"step": 1}


def test_a_message_carries_its_trace_to_the_span_that_continues_it(recorded_spans: Any) -> None:
    assert tracing.message_options() == {}  # no span open: nothing to carry
    with tracing.span("enqueue"):
        options = dict(tracing.message_options())
    # What a worker elsewhere reads from the message, after a round trip through JSON.
    assert list(options) == [tracing.OPTION]
    with tracing.continued(options, "handle", phone_id=None) as span:
        span.set(outcome="sent", absent=None)
    with tracing.continued({}, "alone"):
        pass
    spans = {span.name: span for span in recorded_spans.get_finished_spans()}
    handle = spans["handle"]
    assert handle.parent is not None and handle.parent.span_id == spans["enqueue"].context.span_id
    assert handle.context.trace_id == spans["enqueue"].context.trace_id
    assert dict(handle.attributes) == {"outcome": "sent"}  # None is left out
    assert spans["alone"].parent is None


def test_a_failing_span_keeps_the_error_type_not_its_message(recorded_spans: Any) -> None:
    with pytest.raises(ValueError, match="40712345678"), tracing.span("call"):
        raise ValueError("no chat with +40712345678")
    (span,) = recorded_spans.get_finished_spans()
    assert span.status.status_code.name == "ERROR"
    assert span.status.description == "ValueError"
    assert dict(span.attributes) == {"error.type": "ValueError"}
    assert span.events == ()  # no recorded exception, whose message may hold a number


class Collector(BaseHTTPRequestHandler):
    """An OTLP/HTTP collector that keeps what it is sent."""

    received: list[tuple[str, str, bytes]] = []  # noqa: RUF012 (one per test, reset there)

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length", "0"))
        self.received.append((self.path, self.headers["content-type"], self.rfile.read(length)))
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return None


@pytest.fixture
def collector() -> Iterator[str]:
    Collector.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_configured_spans_go_to_the_collector_over_otlp_http(collector: str) -> None:
    tracing.configure(
        TelemetrySettings(otlp_endpoint=collector, service_name="outreach-test"), role="worker"
    )
    try:
        assert tracing.enabled()
        with tracing.span("worker.handle", phone_id="01"):
            pass
    finally:
        tracing.reset()  # hands the batch over
    assert not tracing.enabled()
    ((path, content_type, payload),) = Collector.received
    assert (path, content_type) == ("/v1/traces", "application/x-protobuf")
    assert b"worker.handle" in payload and b"outreach-test" in payload


def test_off_configure_does_nothing() -> None:
    tracing.configure(TelemetrySettings(), role="worker")
    assert not tracing.enabled()


def test_an_endpoint_without_the_extra_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    # As if `pip install outreach` had been run without [telemetry].
    monkeypatch.setitem(sys.modules, "opentelemetry.exporter.otlp.proto.http.trace_exporter", None)
    settings = TelemetrySettings(otlp_endpoint="http://127.0.0.1:4318")
    with pytest.raises(ConfigError) as raised:
        tracing.configure(settings, role="worker")
    message = str(raised.value)
    assert message.startswith("telemetry.otlp_endpoint: ")
    assert "pip install 'outreach[telemetry]'" in message and "\n" not in message
    assert not tracing.enabled()
    tracing.check(TelemetrySettings())  # off: nothing to miss


@pytest.mark.parametrize(
    ("endpoint", "url"),
    [
        ("http://127.0.0.1:4318", "http://127.0.0.1:4318/v1/traces"),
        ("http://collector:4318/", "http://collector:4318/v1/traces"),
        ("https://otel.example.com/v1/traces", "https://otel.example.com/v1/traces"),
    ],
)
def test_the_traces_url_is_the_endpoint_s_v1_traces(endpoint: str, url: str) -> None:
    from engine.tracing.otel import traces_url

    assert traces_url(endpoint) == url


def _load(tmp_path: Path, table: str) -> TelemetrySettings:
    path = tmp_path / "config.toml"
    path.write_text(f"[telemetry]\n{table}\n")
    return load_settings(path).telemetry


def test_telemetry_is_off_by_default(tmp_path: Path) -> None:
    assert _load(tmp_path, "") == TelemetrySettings(otlp_endpoint="", sample_ratio=1.0)
    assert _load(tmp_path, 'otlp_endpoint = "http://127.0.0.1:4318"').otlp_endpoint


@pytest.mark.parametrize(
    ("table", "key", "says"),
    [
        ('otlp_endpoint = "localhost:4318"', "telemetry.otlp_endpoint", "http(s) URL with a host"),
        ('otlp_endpoint = "grpc://h:4317"', "telemetry.otlp_endpoint", "http://HOST:4318"),
        ('otlp_endpoint = "http://h:port"', "telemetry.otlp_endpoint", "is not a URL"),
        ("sample_ratio = 1.5", "telemetry.sample_ratio", "between 0 and 1"),
        ('service_name = " "', "telemetry.service_name", "must name the service"),
    ],
)
def test_a_bad_telemetry_key_is_one_clear_line(
    tmp_path: Path, table: str, key: str, says: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        _load(tmp_path, table)
    assert raised.value.key == key
    assert says in str(raised.value)
