"""Start-up benchmark: how long ``outreach --help``, ``status`` and ``phones list`` take.

Each command runs as a fresh process (``python -m cli ...``, what the ``outreach``
script does) against a scratch ``outreach init`` folder in a temporary directory: the
embedded SQLite default with three phones in its config, the default Redis URL (``status``
reads Redis when it answers, and says so when it does not), no network. Besides the three
commands it times the interpreter alone (``python -c pass``), the floor no command can go
under: it moves from day to day on a shared machine, so compare the commands with it.

With ``--against REV`` the same commands also run on the code of git revision ``REV``
(``git archive`` into a temporary directory, put first on ``PYTHONPATH``; its own
``outreach init`` folder), the two trees taking turns run by run, so the machine's drift
falls on both alike. ``--against-python`` runs that revision with another interpreter,
a virtualenv with the dependencies that revision was installed with (a dependency's
version is part of start-up: Typer 0.29 imports pydantic), ``--python`` this tree (an
editable install's path finder costs every process ~10 ms that a user's install does
not: give both trees virtualenvs installed alike). Prints the median and the
fastest run of each, in milliseconds, side by side, and with ``--importtime`` where each
command spends its import time, package by package (``python -X importtime`` self times).

    .venv/bin/python bench/startup.py [--runs 11] [--python PY]
        [--against 2b0922e [--against-python PY]] [--importtime]

About 3 minutes with ``--against`` on the 2-core development machine.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMANDS: dict[str, tuple[str, ...]] = {
    "python -c pass": (),
    "outreach --help": ("--help",),
    "outreach status": ("status",),
    "outreach phones list": ("phones", "list"),
}


@dataclass(frozen=True)
class Tree:
    """One version of the code: its source folder and its ``outreach init`` folder."""

    label: str
    source: Path
    site: Path
    pycache: Path
    python: str

    def argv(self, args: tuple[str, ...], *, flags: tuple[str, ...] = ()) -> list[str]:
        if not args:
            return [self.python, *flags, "-c", "pass"]
        config_args = [] if args == ("--help",) else ["--config", str(self.site / "config.toml")]
        return [self.python, *flags, "-m", "cli", *args, *config_args]

    def env(self) -> dict[str, str]:
        # The tree first on the path, ahead of the editable install; nothing of the
        # caller's outreach settings leaks in. Bytecode is cached as on any install (in
        # a scratch folder, not in the tree), even where PYTHONDONTWRITEBYTECODE is set:
        # compiling every module on every run is not what a user's start-up costs.
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("OUTREACH_") and k != "PYTHONDONTWRITEBYTECODE"
        }
        env["PYTHONPATH"] = str(self.source)
        env["PYTHONPYCACHEPREFIX"] = str(self.pycache)
        return env


def checkout(revision: str, into: Path) -> Path:
    """The files of ``revision`` (``git archive``), unpacked under ``into``."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", revision],
        check=True,
        capture_output=True,
    ).stdout
    target = into / f"src-{revision}"
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")
    return target


# What a real site has beyond ``outreach init``: its phones (the commands read and sync them).
PHONES = """
[[phones]]
id = "01"
phone = "+447700900001"

[[phones]]
id = "02"
phone = "+447700900002"
new_contacts_per_day = 50
started_on = 2026-01-05

[[phones]]
id = "03"
phone = "+447700900003"
"""


def prepare(label: str, source: Path, scratch: Path, python: str) -> Tree:
    """``outreach init`` with this tree's code, so its database is at its own schema, and
    three phones in its config."""
    site = scratch / f"site-{label}"
    tree = Tree(label, source, site, scratch / f"pycache-{label}", python)
    subprocess.run(
        [python, "-m", "cli", "init", str(site)],
        check=True,
        capture_output=True,
        env=tree.env(),
        cwd=scratch,
    )
    with (site / "config.toml").open("a") as config:
        config.write(PHONES)
    return tree


@dataclass(frozen=True)
class Run:
    """One run of one command: wall seconds, and the CPU seconds (user + system) the
    child used, which a busy machine disturbs less than the wall time."""

    wall_s: float
    cpu_s: float


def time_once(tree: Tree, args: tuple[str, ...], cwd: Path) -> Run:
    """One run; a failing command stops the benchmark with its stderr."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        tree.argv(args), check=False, capture_output=True, env=tree.env(), cwd=cwd
    )
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        sys.exit(f"{tree.label}: {' '.join(args)} failed:\n{done.stderr.decode()}")
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return Run(elapsed, cpu)


def measure(trees: Sequence[Tree], runs: int, cwd: Path) -> dict[tuple[str, str], list[Run]]:
    """Every (tree, command) ``runs`` times, trees and commands interleaved, after one
    untimed run of each (which fills the bytecode cache)."""
    for args in COMMANDS.values():
        for tree in trees:
            time_once(tree, args, cwd)
    times: dict[tuple[str, str], list[Run]] = {}
    for _ in range(runs):
        for name, args in COMMANDS.items():
            for tree in trees:
                times.setdefault((tree.label, name), []).append(time_once(tree, args, cwd))
    return times


def report(trees: Sequence[Tree], times: dict[tuple[str, str], list[Run]]) -> None:
    """Per command and tree: wall median and fastest, CPU median; with two trees, the
    ratio of their wall medians."""
    print(f"{'':<22}" + "".join(f"{tree.label:>30}" for tree in trees))
    columns = f"{'wall median':>14}{'min':>8}{'cpu':>8}"
    header = f"{'command':<22}" + columns * len(trees)
    print(header + (f"{'wall ratio':>12}" if len(trees) == 2 else ""))
    for name in COMMANDS:
        line = f"{name:<22}"
        medians = []
        for tree in trees:
            runs = times[(tree.label, name)]
            medians.append(statistics.median(run.wall_s for run in runs))
            fastest = min(run.wall_s for run in runs)
            cpu = statistics.median(run.cpu_s for run in runs)
            line += f"{medians[-1] * 1000:>11.0f} ms{fastest * 1000:>5.0f} ms{cpu * 1000:>5.0f} ms"
        if len(trees) == 2:
            line += f"{medians[0] / medians[1]:>11.1f}x"
        print(line)


def top_imports(tree: Tree, name: str, cwd: Path, count: int = 12) -> None:
    """Where command ``name`` spends its import time: each package's own module bodies
    (``python -X importtime`` self times, summed by top-level package)."""
    done = subprocess.run(
        tree.argv(COMMANDS[name], flags=("-X", "importtime")),
        check=True,
        capture_output=True,
        text=True,
        env=tree.env(),
        cwd=cwd,
    )
    by_package: dict[str, int] = {}
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        own, _, module = line.removeprefix("import time:").split("|")
        package = module.strip().split(".")[0]
        by_package[package] = by_package.get(package, 0) + int(own)
    total = sum(by_package.values())
    print(f"\n{tree.label}: `{name}` imports {total / 1000:.0f} ms; the costliest packages")
    for package, own in sorted(by_package.items(), key=lambda item: -item[1])[:count]:
        print(f"  {own / 1000:>8.1f} ms  {package}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=11, help="runs of each command")
    parser.add_argument(
        "--python",
        metavar="PY",
        default=sys.executable,
        help="the interpreter to run this tree with; default this one",
    )
    parser.add_argument("--against", metavar="REV", help="also time git revision REV")
    parser.add_argument(
        "--against-python",
        metavar="PY",
        default=sys.executable,
        help="the interpreter (a virtualenv's python) to run REV with; default this one",
    )
    parser.add_argument("--importtime", action="store_true", help="show the top importers")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="outreach-startup-") as name:
        scratch = Path(name)
        trees = []
        if options.against:
            source = checkout(options.against, scratch)
            trees.append(prepare(options.against, source, scratch, options.against_python))
        trees.append(prepare("this tree", ROOT, scratch, options.python))
        for tree in trees:
            print(f"{tree.label}: {tree.python}")
        print(f"{options.runs} runs each; load average before: {_load()}\n")
        report(trees, measure(trees, options.runs, scratch))
        print(f"\nload average after: {_load()}")
        if options.importtime:
            for tree in trees:
                for command, args in COMMANDS.items():
                    if args:
                        top_imports(tree, command, scratch)


def _load() -> str:
    """The 1, 5 and 15 minute load averages: how quiet the machine was."""
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


if __name__ == "__main__":
    main()
