"""A number TimelinesAI refuses as not on WhatsApp is never tried again: end to end through
the sender, the in-process simulator, each database, and ``campaign launch`` as a user
runs it."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import select

from cli.main import run
from engine.models import Suppression
from engine.sending.outcome import Done
from tests.sending.conftest import Harness

NOT_ON_WHATSAPP = "+40799000000"


def _row(out: str, label: str) -> str:
    """The last cell of the table row that starts with ``label``."""
    for line in out.splitlines():
        cells = [cell.strip() for cell in line.strip("│┃ ").split("│")]
        if cells and cells[0] == label:
            return cells[-1]
    raise AssertionError(f"no row {label!r} in:\n{out}")


def test_a_number_not_on_whatsapp_is_never_tried_again(
    harness: Harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    harness.sim.configure(invalid_recipient_pattern=r"^\+40799")
    eid = harness.enroll(NOT_ON_WHATSAPP, campaign="january")
    assert harness.send(eid, 0, "01") == Done("invalid number")
    enrollment = harness.enrollment(eid)
    assert (enrollment.state, enrollment.end_reason) == ("invalid_number", "invalid_number")
    with harness.database.session() as session:
        [listed] = session.exec(select(Suppression))
    assert (listed.phone, listed.reason, listed.source) == (
        NOT_ON_WHATSAPP, "not_on_whatsapp", "not on WhatsApp: phone 01, campaign january",
    )  # fmt: skip
    tried = len(harness.sim.sends())
    assert tried == 1

    # The same message again (a duplicate delivery), or from the other phone: nothing goes.
    assert harness.send(eid, 0, "01") == Done("enrollment invalid_number")
    assert harness.send(eid, 0, "02") == Done("enrollment invalid_number")

    # A campaign launched later refuses the number, and says why.
    for name in ("OUTREACH_CONFIG", "OUTREACH_DATABASE_URL", "OUTREACH_REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COLUMNS", "160")
    config = str(tmp_path / "config.toml")
    capsys.readouterr()
    launch = ["campaign", "launch", "february", "--sequence", "keep", "--config", config]
    assert run([*launch, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert _row(out, "would be enrolled") == "0"
    assert _row(out, "refused: suppressed number") == "1"
    assert run(launch) == 0
    out = capsys.readouterr().out
    assert _row(out, "enrolled") == "0"
    assert _row(out, "refused: suppressed number") == "1"
    assert len(harness.sim.sends()) == tried
