"""One call to TimelinesAI: rate limit, budget, HTTP, in-call retries, error mapping, logging.

In-call retries (tenacity, exponential backoff with full jitter, bounded by
``retry_total_s``) repeat only what is safe to repeat:

- any request that certainly never reached TimelinesAI (connect error or timeout,
  pool timeout) and any 429;
- for idempotent requests (reads, PUT, DELETE, uploads) also 5xx and broken-off
  exchanges.

A send whose exchange broke off after it left raises ``SendOutcomeUnknown`` at
once: only the chat's history can tell whether it went out.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from functools import partial
from importlib.metadata import PackageNotFoundError, version
from typing import Any, TypeVar
from urllib.parse import unquote

import httpx
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_before_delay,
    wait_random_exponential,
)

from engine import tracing
from engine.errors import ConfigError
from engine.redact import RedactingFilter, redact_text
from engine.timelinesai.answers import SendTarget, error_for_transport, read_answer
from engine.timelinesai.errors import (
    NetworkError,
    RateLimited,
    SendOutcomeUnknown,
    ServerError,
    TimelinesAIError,
    TransientError,
)
from engine.timelinesai.ratelimit.base import MonthlyBudget, RateLimiter
from engine.timelinesai.ratelimit.memory import NoLimit

T = TypeVar("T")

logger = logging.getLogger("engine.timelinesai")


def default_user_agent() -> str:
    """``outreach/<version>``: the CDN in front of TimelinesAI refuses some library defaults."""
    try:
        return f"outreach/{version('outreach')}"
    except PackageNotFoundError:
        return "outreach/0"


def _redact_httpx_logs() -> None:
    """httpx logs every request's URL at INFO, query (phone numbers) included: mask them."""
    httpx_logger = logging.getLogger("httpx")
    if not any(isinstance(found, RedactingFilter) for found in httpx_logger.filters):
        httpx_logger.addFilter(RedactingFilter())


def _retryable(exc: BaseException, idempotent: bool) -> bool:
    if isinstance(exc, RateLimited) or (isinstance(exc, NetworkError) and exc.unsent):
        return True
    return idempotent and isinstance(exc, ServerError | NetworkError)


class ApiSession:
    """The connection pool and call policy shared by every thread of a process."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout_s: float,
        retry_total_s: float,
        backoff_initial_s: float,
        backoff_max_s: float,
        limiter: RateLimiter | None,
        budget: MonthlyBudget | None,
        transport: httpx.BaseTransport | None,
        user_agent: str | None,
        max_connections: int,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ConfigError(f"the TimelinesAI base URL {base_url!r} must start with https://")
        _redact_httpx_logs()
        self._token = token
        # One policy per kind of call, shared by the threads (tenacity keeps each call's
        # state per thread): building one per call costs more than the retry logic.
        self._retrying = {
            idempotent: Retrying(
                retry=retry_if_exception(partial(_retryable, idempotent=idempotent)),
                wait=wait_random_exponential(multiplier=backoff_initial_s, max=backoff_max_s),
                stop=stop_before_delay(retry_total_s),
                before_sleep=self._log_retry,
                reraise=True,
            )
            for idempotent in (False, True)
        }
        self._limiter = limiter or NoLimit()
        self._budget = budget
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={
                "Authorization": f"Bearer {token}",
                "User-Agent": user_agent or default_user_agent(),
                "Accept": "application/json",
            },
            timeout=httpx.Timeout(timeout_s),
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
            transport=transport,
            follow_redirects=False,
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def call(
        self,
        method: str,
        path: str,
        parse: Callable[[Any], T],
        *,
        params: Mapping[str, str | int] | None = None,
        json: Mapping[str, Any] | None = None,
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
        form: Mapping[str, str] | None = None,
        idempotent: bool = True,
        send: SendTarget | None = None,
    ) -> T:
        """``parse`` of the answer's ``data``, retried within ``retry_total_s`` when safe."""
        # Built afresh for every attempt: a request's body stream is read by sending it.
        build = partial(
            self._http.build_request, method, path, params=params, json=json, files=files, data=form
        )
        result: T = self._retrying[idempotent](self._attempt, method, path, build, parse, send)
        return result

    def _attempt(
        self,
        method: str,
        path: str,
        build: Callable[[], httpx.Request],
        parse: Callable[[Any], T],
        send: SendTarget | None,
    ) -> T:
        # One span per attempt, its wait for the rate limiter included; the path is the
        # endpoint's (ids, never a number: those go in the body or the query).
        with tracing.span(
            "timelinesai.request", **{"http.request.method": method, "url.path": path}
        ) as span:
            return self._exchange(build, parse, send, span)

    def _exchange(
        self,
        build: Callable[[], httpx.Request],
        parse: Callable[[Any], T],
        send: SendTarget | None,
        span: tracing.Span,
    ) -> T:
        self._limiter.acquire()
        if self._budget is not None:
            self._budget.charge()
        request = build()
        started = time.monotonic()
        try:
            response = self._http.send(request)
        except httpx.RequestError as exc:
            error = error_for_transport(exc, send)
            _log_failure(error, "%s failed after %d ms: %s", self._name(request), _ms(started))
            raise error from exc
        span.set(**{"http.response.status_code": response.status_code})
        elapsed_ms = _ms(started)
        try:
            result = read_answer(response, parse, send=send)
        except TimelinesAIError as error:
            _log_failure(error, "%s failed in %d ms: %s", self._name(request), elapsed_ms)
            raise
        if logger.isEnabledFor(logging.DEBUG):  # naming the request costs regexes: not per call
            logger.debug("%s -> %d in %d ms", self._name(request), response.status_code, elapsed_ms)
        return result

    def _name(self, request: httpx.Request) -> str:
        """The request as a log-safe ``METHOD path?query`` (numbers masked, no token)."""
        query = unquote(request.url.query.decode("ascii", "replace"))
        target = f"{request.url.path}?{query}" if query else request.url.path
        return f"TimelinesAI {request.method} {redact_text(target, self._token)}"

    @staticmethod
    def _log_retry(state: RetryCallState) -> None:
        wait_s = state.next_action.sleep if state.next_action is not None else 0.0
        logger.info("retrying in %.2f s (attempt %d failed)", wait_s, state.attempt_number)


def _log_failure(error: TimelinesAIError, message: str, name: str, elapsed_ms: int) -> None:
    """One attempt failed. A transient failure is retried here or later, and a send whose
    outcome is unknown is reconciled: whoever handles it says so once, as a warning (the
    actor, the job, the sender), so the attempt itself is only INFO."""
    passing = isinstance(error, TransientError | SendOutcomeUnknown)
    level = logging.INFO if passing else logging.WARNING
    logger.log(level, message, name, elapsed_ms, error)


def _ms(started: float) -> int:
    return round((time.monotonic() - started) * 1000)
