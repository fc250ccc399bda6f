"""bench/safety.py works end to end at its smallest size (``--quick``): real services, the
simulator, a sped-up clock, and the figures as JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# What today's engine already guarantees; the other "never" figures belong to rules that
# may not be merged yet (they are printed, and judged by the benchmark's exit code).
HELD = ("to_suppressed", "quota_overruns", "overlaps", "steps_twice", "after_reply")


@pytest.mark.slow
@pytest.mark.redis
def test_the_quick_run_prints_a_row_per_phone_and_day(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "safety.py"), "--quick", "--json",
         "--keep", str(tmp_path / "run")],
        capture_output=True, text=True, timeout=150, check=False, cwd=ROOT,
    )  # fmt: skip
    assert result.returncode in (0, 1), result.stderr[-3000:]
    report = json.loads(result.stdout)
    assert [row["phone_id"] for row in report["rows"]] == ["01", "02", "03", "04"]
    assert [row["quota"] for row in report["rows"]] == [20, 50, 100, 200]  # warm-up shows
    assert report["summary"]["new_chats"] > 0
    assert report["summary"]["refused"] > 0  # numbers not on WhatsApp were tried once
    assert {name: report["never"][name] for name in HELD} == dict.fromkeys(HELD, 0), report[
        "problems"
    ]
    assert report["ok"] == (result.returncode == 0)
