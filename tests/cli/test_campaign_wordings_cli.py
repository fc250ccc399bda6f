"""``outreach campaign launch`` warns when the first step has too few wordings for the leads of
each phone, and launches all the same."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli.main import run
from tests.cli.test_campaign_cli import CONFIG, clean_environment, site  # noqa: F401

PLAIN = """
[sequences.plain]
timezone = "UTC"
[[sequences.plain.steps]]
after = "0m"
template = "Hello {{company|there}}, a question for you"
"""


def test_launch_warns_of_too_few_wordings_and_still_launches(
    site: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    (site / "config.toml").write_text(CONFIG + PLAIN)
    # Two wordings of intro's first step for the two leads it would enroll: no warning.
    assert run(["campaign", "launch", "intro", "--tag", "jan", "--phones", "01", "--dry-run"]) == 0
    assert "warning" not in capsys.readouterr().out
    assert run(["campaign", "launch", "plain", "--tag", "jan", "--phones", "01"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "warning: step 1 of plain has about 1 distinct wording" in out
    assert "writing to 3 leads needs 3" in out
    assert "campaign plain is active" in out


def test_no_warning_when_the_rule_is_off(
    site: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    (site / "config.toml").write_text(CONFIG + PLAIN + "[texts]\nenabled = false\n")
    assert run(["campaign", "launch", "plain", "--tag", "jan", "--phones", "01", "--dry-run"]) == 0
    assert "warning" not in capsys.readouterr().out
