"""The schema check read without Alembic agrees with Alembic, and still refuses an old
or empty database."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from engine.db import Database, _alembic_config
from engine.errors import StorageError
from engine.revisions import head_revision


def test_the_head_is_alembics_head() -> None:
    script = ScriptDirectory.from_config(_alembic_config("sqlite://"))
    assert head_revision() == script.get_current_head()


def test_the_current_revision_is_alembics(database: Database) -> None:
    with database.engine.connect() as connection:
        expected = MigrationContext.configure(connection).get_current_revision()
    assert expected is not None
    assert database.current_revision() == expected == database.head_revision()


def test_an_empty_database_is_at_no_revision(tmp_path: Path) -> None:
    empty = Database(f"sqlite:///{tmp_path / 'empty.db'}")
    assert empty.current_revision() is None
    empty.dispose()


def test_a_database_at_an_old_revision_is_refused_with_the_fix(tmp_path: Path) -> None:
    old = Database(f"sqlite:///{tmp_path / 'old.db'}")
    old.upgrade("0004")
    assert old.current_revision() == "0004"
    message = (
        f"the database {old.safe_url} is at revision 0004, not {head_revision()}: "
        "run `outreach db upgrade`"
    )
    with pytest.raises(StorageError, match=f"^{re.escape(message)}$"):
        old.require_current()
    old.upgrade()
    old.require_current()
    old.dispose()


def _migration(folder: Path, name: str, body: str) -> None:
    (folder / f"{name}.py").write_text(
        f'"""{name}"""\n\n{body}\n\n\ndef upgrade() -> None:\n    pass\n'
    )


@pytest.mark.parametrize(
    ("files", "head"),
    [
        ({"a": 'revision = "a"\ndown_revision = None'}, "a"),
        (
            {
                "a": 'revision = "a"\ndown_revision = None',
                "b": 'revision: str = "b"\ndown_revision: str | None = "a"',
            },
            "b",
        ),
        (  # a merge names both parents
            {
                "a": 'revision = "a"\ndown_revision = None',
                "b": 'revision = "b"\ndown_revision = "a"',
                "c": 'revision = "c"\ndown_revision = "a"',
                "m": 'revision = "m"\ndown_revision = ("b", "c")',
            },
            "m",
        ),
        ({"a": 'revision = "a"\ndown_revision = None', "helper": "X = object()"}, "a"),
    ],
    ids=["one", "annotated", "merge", "not a migration"],
)
def test_the_head_is_the_revision_nobody_revises(
    tmp_path: Path, files: dict[str, str], head: str
) -> None:
    for name, body in files.items():
        _migration(tmp_path, name, body)
    assert head_revision(tmp_path) == head


def test_a_line_starting_with_def_in_the_docstring_is_read_past(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text(
        '"""a\ndef as in definition\n"""\n\nrevision = "a"\ndown_revision = None\n'
    )
    assert head_revision(tmp_path) == "a"


def test_two_heads_are_refused(tmp_path: Path) -> None:
    _migration(tmp_path, "a", 'revision = "a"\ndown_revision = None')
    _migration(tmp_path, "b", 'revision = "b"\ndown_revision = "a"')
    _migration(tmp_path, "c", 'revision = "c"\ndown_revision = "a"')
    with pytest.raises(StorageError, match=r"heads \['b', 'c'\], not one"):
        head_revision(tmp_path)
