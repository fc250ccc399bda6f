"""The README's "A first campaign, step by step", run as written: its shell block, in a
fresh folder, against the repository's example files, with real processes."""

from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEADING = "## A first campaign, step by step"


def walkthrough() -> str:
    """The first ``bash`` block under the walkthrough's heading in the README."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index(HEADING) :]
    found = re.search(r"```bash\n(.*?)```", section, re.S)
    assert found is not None, "the walkthrough has no bash block"
    return found.group(1)


@pytest.mark.redis
def test_the_readme_walkthrough_runs_as_written(tmp_path: Path, redis_namespace: str) -> None:
    # The example files, as the block copies them, with this test's own Redis namespace.
    examples = tmp_path / "examples" / "trial"
    examples.mkdir(parents=True)
    config = (ROOT / "examples/trial/config.toml").read_text(encoding="utf-8")
    assert 'namespace = "outreach-trial"' in config
    (examples / "config.toml").write_text(
        config.replace('namespace = "outreach-trial"', f'namespace = "{redis_namespace}"')
    )
    shutil.copy(ROOT / "examples/trial/leads.csv", examples / "leads.csv")
    env = {k: v for k, v in os.environ.items() if not k.startswith("OUTREACH_")}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["COLUMNS"] = "160"
    done = subprocess.run(
        ["bash", "-c", "set -euo pipefail\n" + walkthrough()],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "Traceback" not in output
    assert "imported (new)" in output and "unknown country 'Atlantis'" in output
    with (tmp_path / "trial" / "spring.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 16
    assert any(row["step_1_sent_at"] for row in rows), output  # serve sent first messages
    # leads show: the campaign of the number put on the do-not-contact list ended.
    assert re.search(r"│ spring +│ stopped +│.*│ suppressed +│", output), output
