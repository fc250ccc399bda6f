"""``outreach demo`` at its smallest size: real child processes, and its own invariant check."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import REDIS_URL


def test_demo_passes_its_own_invariant_check(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    # Twice the default speed: the same 2.4 virtual days in half the test time.
    result = subprocess.run(
        [sys.executable, "-m", "cli", "demo", "--leads", "40", "--folder", str(folder),
         "--no-live", "--seed", "7", "--redis-url", REDIS_URL, "--timeout", "80",
         "--speed", "8640"],
        capture_output=True, text=True, timeout=150, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "invariants held" in result.stdout
    assert "every lead in a named end state (0 still running)" in result.stdout
    assert "wrote STOP" in result.stdout
    assert "connected again" in result.stdout
    leftovers = subprocess.run(
        ["pgrep", "-f", str(folder)], capture_output=True, text=True, check=False
    ).stdout
    assert leftovers.strip() == ""


def test_demo_says_in_one_line_when_redis_is_down(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "cli", "demo", "--folder", str(tmp_path / "d"),
         "--redis-url", "redis://127.0.0.1:1/0"],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert result.returncode != 0
    message = result.stderr.strip()
    assert "not reachable" in message
    assert "redis-server" in message
