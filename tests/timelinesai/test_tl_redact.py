"""Phone numbers and the token never reach the logs."""

from __future__ import annotations

import logging

import pytest

from engine.redact import RedactingFilter, mask_phone, redact_text


@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        ("+40712345678", "••••5678"),
        ("40712345678", "••••5678"),
        ("+40 712 345 678", "••••5678"),
        ("1234", "••••"),
        ("", ""),
        (None, ""),
    ],
)
def test_mask_phone_keeps_the_last_four_digits(phone: str | None, masked: str) -> None:
    assert mask_phone(phone) == masked


@pytest.mark.parametrize(
    ("text", "redacted"),
    [
        ("send to +40712345678 now", "send to ••••5678 now"),
        ("/chats?phone=%2B40712345678&page=1", "/chats?phone=••••5678&page=1"),
        ("jid 40712345678@s.whatsapp.net", "jid ••••5678@s.whatsapp.net"),
        ('Wrong phone number "+15550100001"', 'Wrong phone number "••••0001"'),
        ("Authorization: Bearer abc.def-ghi", "Authorization: Bearer [redacted]"),
        (
            "POST /webhooks/timelinesai?secret=s3cr3t HTTP/1.1",
            "POST /webhooks/timelinesai?secret=[redacted] HTTP/1.1",
        ),
        ("/x?page=2&token=t0k&key=k3y", "/x?page=2&token=[redacted]&key=[redacted]"),
        # Left alone: chat ids, timestamps with offsets, uuids.
        ("chat 1001 at 2023-06-18 15:19:23 +0300", "chat 1001 at 2023-06-18 15:19:23 +0300"),
        ("uid 123e4567-e89b-12d3-a456-426614174000", "uid 123e4567-e89b-12d3-a456-426614174000"),
    ],
)
def test_redact_text(text: str, redacted: str) -> None:
    assert redact_text(text) == redacted


def test_redact_text_removes_the_token() -> None:
    assert redact_text("token tok_secret_123 leaked", "tok_secret_123") == "token [token] leaked"


def test_filter_redacts_message_arguments_and_traceback(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("tests.redact")
    logger.addFilter(RedactingFilter(token="tok_secret_123"))
    try:
        with caplog.at_level(logging.INFO, logger="tests.redact"):
            logger.info("to %s with %s, %d tries", "+40712345678", "tok_secret_123", 3)
            try:
                raise ValueError("bad number +40712345678")
            except ValueError:
                logger.exception("failed")
    finally:
        logger.filters.clear()
    text = caplog.text
    assert "to ••••5678 with [token], 3 tries" in text
    assert "bad number ••••5678" in text
    assert "40712345678" not in text
    assert "tok_secret_123" not in text


def test_filter_keeps_arguments_for_formatters_that_unpack_them() -> None:
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s"', ("1.2.3.4", "GET", "/x"), None
    )
    RedactingFilter().filter(record)
    assert record.args == ("1.2.3.4", "GET", "/x")
