"""The OpenTelemetry side of the tracing seam: imported only when tracing is on.

Spans are started explicitly (not through the global tracer provider, which this
process leaves alone) and made current for their thread while open, so the spans
opened beneath them, and the context injected into a message, are their children.
A failing span records the error's type only: an error's message may hold a number.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace import Link, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

if TYPE_CHECKING:
    from engine.settings import TelemetrySettings
    from engine.tracing import Attribute

TRACES_PATH = "/v1/traces"
_PROPAGATOR = TraceContextTextMapPropagator()


def traces_url(endpoint: str) -> str:
    """The collector's traces URL: ``endpoint`` plus ``/v1/traces`` unless it has it."""
    endpoint = endpoint.rstrip("/")
    return endpoint if endpoint.endswith(TRACES_PATH) else endpoint + TRACES_PATH


def exporting(settings: TelemetrySettings, *, role: str) -> TracerProvider:
    """A provider that batches spans to the OTLP/HTTP collector of ``settings``, keeping
    ``sample_ratio`` of new traces (a continued trace follows its parent's choice)."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    resource = Resource({"service.name": settings.service_name, "outreach.role": role})
    sampler = ParentBased(TraceIdRatioBased(settings.sample_ratio))
    provider = TracerProvider(resource=resource, sampler=sampler)
    exporter = OTLPSpanExporter(endpoint=traces_url(settings.otlp_endpoint))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


class OtelTracing:
    """Spans of one tracer provider, with W3C trace-context carriers."""

    def __init__(self, provider: TracerProvider) -> None:
        self._provider = provider
        self._tracer = provider.get_tracer("outreach")

    def span(
        self, name: str, attributes: Mapping[str, Attribute], *, new_trace: bool = False,
        carrier: Mapping[str, str] | None = None,
    ) -> OtelSpan:  # fmt: skip
        """A span to open: a child of the current span, of ``carrier``'s, or (``new_trace``)
        the root of a new trace linked to the current span."""
        links: list[Link] = []
        parent: Context | None = None
        if carrier is not None:
            parent = _PROPAGATOR.extract(carrier)
        elif new_trace:
            parent = Context()
            current = trace.get_current_span().get_span_context()
            if current.is_valid:
                links.append(Link(current))
        return OtelSpan(self._tracer, name, _clean(attributes), parent, links)

    def carrier(self) -> dict[str, str]:
        """The current span's context as W3C headers (empty: no span is open)."""
        if not trace.get_current_span().get_span_context().is_valid:
            return {}
        carrier: dict[str, str] = {}
        _PROPAGATOR.inject(carrier)
        return carrier

    def shutdown(self) -> None:
        """Hand over the spans still waiting in the batch."""
        self._provider.force_flush()


class OtelSpan:
    """One span, current in its thread between enter and exit."""

    __slots__ = ("_attributes", "_links", "_name", "_parent", "_span", "_token", "_tracer")

    def __init__(
        self, tracer: trace.Tracer, name: str, attributes: dict[str, str | int | float | bool],
        parent: Context | None, links: list[Link],
    ) -> None:  # fmt: skip
        self._tracer, self._name, self._attributes = tracer, name, attributes
        self._parent, self._links = parent, links
        self._span: trace.Span | None = None
        self._token: object = None

    def __enter__(self) -> OtelSpan:
        self._span = self._tracer.start_span(
            self._name, context=self._parent, attributes=self._attributes, links=self._links
        )
        self._token = otel_context.attach(trace.set_span_in_context(self._span))
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._span is not None
        try:
            if kind is not None:
                self._span.set_attribute("error.type", kind.__name__)
                self._span.set_status(Status(StatusCode.ERROR, kind.__name__))
        finally:
            otel_context.detach(self._token)  # type: ignore[arg-type]
            self._span.end()

    def set(self, **attributes: Attribute) -> None:
        """Add ``attributes`` (``None`` values are left out)."""
        if self._span is not None:
            self._span.set_attributes(_clean(attributes))


def _clean(attributes: Mapping[str, Attribute]) -> dict[str, str | int | float | bool]:
    return {key: value for key, value in attributes.items() if value is not None}
