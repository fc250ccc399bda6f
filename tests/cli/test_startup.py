"""Start-up stays light: what a fresh ``outreach`` process imports, per command.

``outreach --help`` loads every ``cli`` module and reads every command's signature (a
command only its own), so a heavy import at the top of any of them (or of what they
import) slows help and the commands in it. Each test runs the CLI in a new interpreter
and reads its ``sys.modules``: no timing, so a busy machine cannot make it flaky. To
find who brought a module in: ``python -X importtime -m cli --help``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cli.main import run

ROOT = Path(__file__).resolve().parents[2]

# Runs the CLI with argv[2:] after importing argv[1] (comma-separated, may be empty),
# then writes the loaded module names to the file named by $PROBE_OUT.
PROBE = """
import json, os, sys
for name in filter(None, sys.argv[1].split(",")):
    __import__(name)
from cli.main import run
code = run(sys.argv[2:])
with open(os.environ["PROBE_OUT"], "w") as out:
    json.dump({"code": code, "modules": sorted(sys.modules)}, out)
"""

# Nothing of these is needed to print help.
NOT_FOR_HELP = (
    "alembic", "apscheduler", "dramatiq", "fastapi", "httpx", "jinja2", "phonenumbers",
    "prometheus_client", "psycopg", "pydantic", "redis", "sqlalchemy", "sqlmodel",
    "starlette", "tenacity", "uvicorn",
    "engine.db", "engine.models", "engine.runtime", "engine.settings", "phones", "sequences",
)  # fmt: skip
# Reading the database needs SQLAlchemy's core and the settings, never the queue, the web
# stack, Redis or the HTTP client; nor Alembic (with Mako and Pygments, ~0.1 s): the
# schema check reads the revisions itself, Alembic only applies migrations. Nor the ORM,
# SQLModel or the ORM classes (~0.13 s with the models' mapping): the tables are Core
# objects (engine.tables) and the readers' queries Core statements. Nor pydantic (~70 ms,
# Typer 0.29 validates every option with it: pyproject keeps Typer below), nor
# SQLAlchemy's PostgreSQL dialect on SQLite (~20 ms: engine.tables.use_postgresql).
NOT_FOR_READING = (
    "alembic", "dramatiq", "fastapi", "httpx", "jinja2", "mako", "prometheus_client",
    "pydantic", "pygments", "redis", "sqlalchemy.dialects.postgresql", "sqlalchemy.orm",
    "sqlmodel", "starlette", "tenacity", "uvicorn",
    "engine.broker", "engine.models", "engine.timelinesai", "engine.timelinesai.client",
    "engine.webhook",
)  # fmt: skip


def loaded(folder: Path, argv: list[str], *, preload: tuple[str, ...] = ()) -> list[str]:
    """The modules a fresh interpreter holds after ``outreach ARGV`` exits 0 in ``folder``."""
    out = folder / "modules.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("OUTREACH_")}
    env["PROBE_OUT"] = str(out)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, (str(ROOT), env.get("PYTHONPATH"))))
    done = subprocess.run(
        [sys.executable, "-c", PROBE, ",".join(preload), *argv],
        cwd=folder, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads(out.read_text())
    assert result["code"] == 0, done.stdout + done.stderr
    return list(result["modules"])


def heavy(modules: list[str], forbidden: tuple[str, ...]) -> list[str]:
    """The ``forbidden`` packages (or modules) among ``modules``."""
    return sorted(
        name for name in forbidden if any(m == name or m.startswith(f"{name}.") for m in modules)
    )


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder from ``outreach init``: config and SQLite database, nothing else."""
    for name in ("OUTREACH_CONFIG", "OUTREACH_DATABASE_URL", "OUTREACH_REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    assert run(["init", str(tmp_path)]) == 0
    return tmp_path


def test_help_imports_no_engine_database_queue_or_web_stack(tmp_path: Path) -> None:
    modules = loaded(tmp_path, ["--help"])
    assert "cli.campaign_cmd" in modules  # every command module was read
    assert heavy(modules, NOT_FOR_HELP) == []


def test_a_command_group_help_imports_none_of_them_either(tmp_path: Path) -> None:
    # Parsing the root's options takes no pydantic either (Typer before 0.29: pyproject).
    modules = loaded(tmp_path, ["campaign", "--help"])
    assert heavy(modules, NOT_FOR_HELP) == []


# Loading the config checks a plain Redis URL without redis-py (engine/settings/urls.py).
CHECKS_REDIS_URL: tuple[str, ...] = ()
# ``status`` reads the sending halt and the month's API calls from Redis, through the
# client package's own budget (and not its HTTP client: the package re-exports lazily).
READS_REDIS = (*CHECKS_REDIS_URL, "engine.timelinesai")


@pytest.mark.parametrize(
    ("argv", "allowed"),
    [(["status"], ("redis", *READS_REDIS)), (["phones", "list"], CHECKS_REDIS_URL)],
    ids=["status", "phones list"],
)
def test_reading_commands_load_no_queue_web_stack_redis_or_http_client(
    site: Path, argv: list[str], allowed: tuple[str, ...]
) -> None:
    modules = loaded(site, [*argv, "--config", str(site / "config.toml")])
    assert "sqlalchemy" in modules  # it did read the database
    assert heavy(modules, tuple(n for n in NOT_FOR_READING if n not in allowed)) == []


def test_a_command_loads_its_own_cli_module_only(site: Path) -> None:
    """Running ``status`` builds the app with status alone (``cli.main.build_app``)."""
    modules = loaded(site, ["status", "--config", str(site / "config.toml")])
    commands = sorted(m for m in modules if m.startswith("cli.") and m.endswith("_cmd"))
    assert commands == ["cli.status_cmd"]


def test_the_probe_sees_a_heavy_import(tmp_path: Path) -> None:
    """The checks above would pass on a probe that saw nothing."""
    modules = loaded(tmp_path, ["--help"], preload=("httpx",))
    assert heavy(modules, NOT_FOR_HELP) == ["httpx"]


def test_the_probe_sees_the_orm(site: Path) -> None:
    """``sqlalchemy.orm`` is a module of a package the readers do load: the check names
    it when something brings it in."""
    modules = loaded(
        site, ["phones", "list", "--config", str(site / "config.toml")], preload=("engine.models",)
    )
    assert heavy(modules, NOT_FOR_READING) == ["engine.models", "sqlalchemy.orm"]


def test_the_clis_light_defaults_are_the_engines() -> None:
    """The defaults the CLI spells out to stay light are the ones the engine uses."""
    from cli.lead_file_options import DEFAULT_ENCODING
    from cli.suppress_cmd import MANUAL_REASON
    from sequences import DEFAULT_ENCODING as ENGINE_ENCODING
    from sequences import suppression

    assert DEFAULT_ENCODING == ENGINE_ENCODING
    assert MANUAL_REASON == suppression.MANUAL_REASON
