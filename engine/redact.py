"""Keeping secrets and phone numbers out of logs.

Leads' phone numbers are personal data and the workspace token is a credential:
logs keep only the last four digits of a number and never the token. Use
:func:`mask_phone` where a number is logged on purpose, :func:`redact_text` on text
that may contain one, and :class:`RedactingFilter` on handlers as a safety net.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping

MASK = "••••"

# E.164 with its plus (6-15 digits; the plus may be URL-encoded as %2B), or a bare
# run of 10-15 digits such as the number inside a JID ("40712345678@s.whatsapp.net").
# Bare runs start at 10 digits so chat ids, years and durations stay readable;
# digits glued to letters or dashes (uuids, hex ids) are not numbers.
_PHONE = re.compile(r"(?<![\w+%-])(?:(?:\+|%2[Bb])\d{6,15}|\d{10,15})(?![\w-])")
_BEARER = re.compile(r"(?i)(bearer\s+)[^\s\"',;]+")
# Credentials in a URL's query string (the webhook's ``?secret=``, tokens, keys).
_QUERY_SECRET = re.compile(r"(?i)([?&](?:secret|token|api_key|apikey|key)=)[^&\s\"']+")


def mask_phone(phone: str | None) -> str:
    """``+40712345678`` -> ``••••5678``; a short or empty input is masked whole."""
    if not phone:
        return ""
    digits = re.sub(r"\D", "", phone)
    return MASK + digits[-4:] if len(digits) > 4 else MASK


def redact_text(text: str, token: str | None = None) -> str:
    """Mask every phone-number-looking run, the ``token``, any bearer credential and any
    ``secret``/``token``/``key`` query parameter."""
    if token:
        text = text.replace(token, "[token]")
    text = _BEARER.sub(r"\1[redacted]", text)
    text = _QUERY_SECRET.sub(r"\1[redacted]", text)
    return _PHONE.sub(lambda match: mask_phone(match.group(0)), text)


class RedactingFilter(logging.Filter):
    """A logging filter that redacts each record's message, arguments and traceback in place.

    Arguments stay arguments (formatters such as uvicorn's access log unpack them):
    numbers and ``None`` are kept for ``%d``-style formats, anything else becomes
    its redacted text (httpx, for one, logs URL objects that hold phone numbers).
    """

    def __init__(self, token: str | None = None, name: str = "") -> None:
        super().__init__(name)
        self._token = token

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact_text(str(record.msg), self._token)
        if isinstance(record.args, tuple):
            record.args = tuple(self._redact_arg(arg) for arg in record.args)
        elif isinstance(record.args, Mapping):
            record.args = {key: self._redact_arg(arg) for key, arg in record.args.items()}
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text, self._token)
        return True

    def _redact_arg(self, arg: object) -> object:
        if arg is None or isinstance(arg, int | float):
            return arg
        return redact_text(str(arg), self._token)
