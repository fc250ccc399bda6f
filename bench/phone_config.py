"""How long a config with many slug phones takes to load, and its actors to be declared.

    .venv/bin/python bench/phone_config.py [PHONES]

Prints the median of 5 runs (milliseconds) for the phones as ``[[phones]]`` tables in the
config, in a CSV phones file and in a TOML phones file, then for ``declare_actors`` (two
queues and an answer actor per phone; no Redis is needed to declare them), and for
planning an ``outreach phones import`` that updates every phone.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from engine.broker import build_broker, declare_actors
from engine.settings import load_settings
from engine.settings.phone_file import read_phones
from engine.settings.phone_import import plan_import


def _median_ms(run: Callable[[], object], times: int = 5) -> float:
    spans = []
    for _ in range(times):
        start = time.perf_counter()
        run()
        spans.append((time.perf_counter() - start) * 1000)
    return statistics.median(spans)


def _unused(*_args: object) -> None:
    raise AssertionError("never sent")


def main(count: int) -> None:
    ids = [f"site-{n}_x" for n in range(count)]
    numbers = [f"+4477009{n:05d}" for n in range(count)]
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        tables = "".join(
            f'[[phones]]\nid = "{i}"\nphone = "{p}"\n' for i, p in zip(ids, numbers, strict=True)
        )
        (root / "inline.toml").write_text(tables)
        (root / "phones.csv").write_text(
            "id,phone\n" + "".join(f"{i},{p}\n" for i, p in zip(ids, numbers, strict=True))
        )
        (root / "phones.toml").write_text(tables)
        for name in ("csv", "toml"):
            (root / f"with_{name}.toml").write_text(f'[phones]\nfile = "phones.{name}"\n')
        print(f"{count} phones, median of 5 runs")
        for label, path in (
            ("[[phones]] tables in the config", root / "inline.toml"),
            ("[phones] file = phones.csv", root / "with_csv.toml"),
            ("[phones] file = phones.toml", root / "with_toml.toml"),
        ):
            print(f"  load_settings, {label}: {_median_ms(lambda p=path: load_settings(p)):.1f} ms")
        settings = load_settings(root / "with_csv.toml")

        def declare() -> None:
            declare_actors(build_broker(settings), settings, _unused, _unused)

        print(f"  declare_actors ({3 * count} actors): {_median_ms(declare):.1f} ms")
        (root / "update.csv").write_text(
            "id,phone,new_contacts_per_day\n"
            + "".join(f"{i},{p},50\n" for i, p in zip(ids, numbers, strict=True))
        )

        def plan() -> None:
            plan_import(read_phones(root / "phones.csv"), read_phones(root / "update.csv"))

        print(f"  phones import plan, every phone updated: {_median_ms(plan):.1f} ms")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
