"""``outreach serve``: every service of a deployment in one process tree.

The workers send, the scheduler dispatches due steps and runs the maintenance jobs,
the webhook receiver takes TimelinesAI's events, the replies worker classifies
replies, raises review flags, sends notifications and checks unknown sent messages,
and the console serves the web pages (when someone can sign in to it).

For a small deployment on one machine. Each service is a child running its own
``outreach`` command under the one supervisor (:mod:`engine.supervisor`), so a child
behaves exactly as when run alone: the worker supervises its own worker processes,
the receiver its receiver processes.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from engine.supervisor import ChildSpec, cli_command

__all__ = ["child_specs"]


def child_specs(
    config_path: Path,
    *,
    worker_processes: int,
    threads: int,
    webhook_workers: int,
    reply_threads: int = 2,
    console: bool = False,
    options: Sequence[str] = (),
    python: str = sys.executable,
) -> list[ChildSpec]:
    """The four services as ``outreach`` commands on the same config file, and the web
    console when ``console`` (someone can sign in); ``options`` are the root's, passed on
    to each (``--log-format``)."""

    def command(*args: str) -> tuple[str, ...]:
        return cli_command(config_path, *args, options=options, python=python)

    specs = [
        ChildSpec("worker", command(
            "worker", "--processes", str(worker_processes), "--threads", str(threads)
        )),
        ChildSpec("scheduler", command("scheduler")),
        ChildSpec("webhook", command("webhook", "serve", "--workers", str(webhook_workers))),
        ChildSpec("replies", command("replies", "worker", "--threads", str(reply_threads))),
    ]  # fmt: skip
    if console:
        specs.append(ChildSpec("console", command("console")))
    return specs
