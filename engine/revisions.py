"""The schema revision a database is at and the one the migrations lead to, read
without Alembic.

Every command that reads the database first checks its schema is current. Alembic
answers both questions, but importing it (with Mako and Pygments for its script
templates) costs about 0.1 s, more than the command's own work: so the check reads
the ``alembic_version`` table Alembic keeps and the ``revision``/``down_revision``
assignments of the migration files. Alembic still applies the migrations
(:meth:`engine.db.Database.upgrade`); a test holds :func:`head_revision` equal to
Alembic's own head.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

from sqlalchemy import Connection, text

from engine.errors import StorageError

MIGRATIONS = Path(__file__).parent / "migrations"
VERSION_TABLE = "alembic_version"
"""Alembic's default table, where it records the revision a database is at."""


@cache
def head_revision(versions: Path = MIGRATIONS / "versions") -> str:
    """The latest revision of the migrations in ``versions``: the one no other migration
    names as its ``down_revision``. Read once per process."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in sorted(versions.glob("*.py")):
        assigned = _assignments(path)
        revision = assigned.get("revision")
        if not isinstance(revision, str):
            continue  # not a migration (Alembic skips such files too)
        revisions.add(revision)
        down = assigned.get("down_revision")
        if isinstance(down, str):
            parents.add(down)
        elif isinstance(down, tuple | list):  # a merge names each revision it joins
            parents.update(str(parent) for parent in down)
    heads = sorted(revisions - parents)
    if len(heads) != 1:
        raise StorageError(f"the migrations in {versions} have heads {heads}, not one")
    return heads[0]


def _assignments(path: Path) -> dict[str, object]:
    """The module-level constants assigned in ``path`` (``name = "literal"``, annotated
    or not) before its first function: where Alembic writes a migration's identifiers."""
    source = path.read_text(encoding="utf-8")
    # Parsing the whole file (its upgrade and downgrade) would cost ~5 ms a migration.
    header = source.split("\ndef ", 1)[0]
    try:
        tree = ast.parse(header, str(path))
    except SyntaxError:  # "def " began a line inside a string: read it all
        tree = ast.parse(source, str(path))
    found: dict[str, object] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            continue
        if isinstance(target, ast.Name):
            try:
                found[target.id] = ast.literal_eval(value)
            except ValueError:
                continue  # not a literal: not one of Alembic's identifiers
    return found


def current_revision(connection: Connection) -> str | None:
    """The revision the database behind ``connection`` is at; ``None`` for one Alembic
    never migrated (no version table, or an empty one)."""
    if not connection.dialect.has_table(connection, VERSION_TABLE):
        return None
    rows = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    if len(rows) > 1:
        raise StorageError(f"the database is at several revisions at once: {sorted(rows)}")
    return rows[0] if rows else None
