"""Traces: the seam every module opens spans through, off (and free) unless configured.

With ``[telemetry] otlp_endpoint`` empty (the default) nothing here imports
OpenTelemetry: :func:`span` returns one shared no-op context manager, and the
carriers are empty. :func:`configure` (called once per process, at the edge) turns
tracing on with the OpenTelemetry SDK and an OTLP/HTTP exporter
(:mod:`engine.tracing.otel`, the ``telemetry`` extra); :func:`install` does the same
with a provider the caller built (tests, with an in-memory exporter).

One trace per send: the dispatcher starts a new trace for each message it enqueues
(:func:`new_trace`), the trace's context travels in the message's options
(:func:`message_options`), and the worker that takes the message continues it
(:func:`continued`): its claim, API call and record are that trace's spans. One
trace per webhook event the same way, through the ``replies`` queue.

Attributes carry ids (phone id, enrollment id, step numbered from 1, outcome), never
a message's text or a lead's number.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

from engine.errors import ConfigError

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

    from engine.settings import TelemetrySettings
    from engine.tracing.otel import OtelTracing

__all__ = [
    "OPTION",
    "Span",
    "check",
    "configure",
    "continued",
    "enabled",
    "install",
    "message_options",
    "new_trace",
    "reset",
    "span",
]

OPTION = "trace_context"
"""The Dramatiq message option holding the W3C trace context of the span that enqueued it."""

Attribute = str | int | float | bool | None
"""An attribute's value; ``None`` is left out."""


class Span(Protocol):
    """An open span: a context manager whose value can take more attributes."""

    def __enter__(self) -> Span: ...

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def set(self, **attributes: Attribute) -> None:
        """Add ``attributes`` to the span (e.g. its outcome, once known)."""


class _NoSpan:
    """The span of tracing turned off: does nothing, as cheaply as Python can."""

    __slots__ = ()

    def __enter__(self) -> _NoSpan:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    def set(self, **attributes: Attribute) -> None:
        return None


NO_SPAN = _NoSpan()
_EXPORTER = "opentelemetry.exporter.otlp.proto.http.trace_exporter"
_NO_OPTIONS: Mapping[str, Any] = {}
_tracing: OtelTracing | None = None


def enabled() -> bool:
    """Whether spans are recorded in this process."""
    return _tracing is not None


def span(name: str, **attributes: Attribute) -> Span:
    """A span named ``name``, a child of the current one (or a trace's root)."""
    if _tracing is None:
        return NO_SPAN
    return _tracing.span(name, attributes)


def new_trace(name: str, **attributes: Attribute) -> Span:
    """The root span of a new trace, linked to the current span (a dispatcher pass
    starts one trace per message it enqueues)."""
    if _tracing is None:
        return NO_SPAN
    return _tracing.span(name, attributes, new_trace=True)


def continued(options: Mapping[str, Any] | None, name: str, **attributes: Attribute) -> Span:
    """A span continuing the trace whose context ``options`` (a message's options) carry
    under :data:`OPTION`; a new trace when they carry none."""
    if _tracing is None:
        return NO_SPAN
    carrier = options.get(OPTION) if options is not None else None
    if not isinstance(carrier, Mapping):
        return _tracing.span(name, attributes, new_trace=True)
    return _tracing.span(name, attributes, carrier=carrier)


def message_options() -> Mapping[str, Any]:
    """The options that carry the current span's context in a message (pass them to
    ``send_with_options``); empty when tracing is off or no span is open."""
    if _tracing is None:
        return _NO_OPTIONS
    carrier = _tracing.carrier()
    return {OPTION: carrier} if carrier else _NO_OPTIONS


def configure(settings: TelemetrySettings, *, role: str) -> None:
    """Turn tracing on in this process when ``settings.otlp_endpoint`` is set (``role``:
    which process this is, e.g. ``worker``); off, nothing is imported."""
    if not settings.otlp_endpoint:
        return
    check(settings)
    from engine.tracing.otel import exporting

    install(exporting(settings, role=role))


def check(settings: TelemetrySettings) -> None:
    """Raise :class:`ConfigError` in one line when traces are asked for but the
    ``telemetry`` extra is not installed (a supervisor says so once, before its
    children would die of it at every restart)."""
    if not settings.otlp_endpoint:
        return
    from importlib import import_module

    try:
        for module in ("engine.tracing.otel", _EXPORTER):
            import_module(module)
    except ImportError:
        raise ConfigError(
            "is set but OpenTelemetry is not installed: pip install 'outreach[telemetry]' "
            "(or leave the key empty to turn traces off)",
            key="telemetry.otlp_endpoint",
        ) from None


def install(provider: TracerProvider) -> None:
    """Record spans through ``provider``, an OpenTelemetry SDK tracer provider (tests
    pass one with an in-memory exporter)."""
    from engine.tracing.otel import OtelTracing

    global _tracing  # noqa: PLW0603 (the one switch of the process)
    _tracing = OtelTracing(provider)


def reset() -> None:
    """Turn tracing off again, handing over what was recorded (tests)."""
    global _tracing
    current, _tracing = _tracing, None
    if current is not None:
        current.shutdown()
