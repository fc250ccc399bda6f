"""Alembic environment: runs migrations on the connection handed in by engine.db."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from engine.tables import metadata, use_postgresql

config = context.config
target_metadata = metadata


def _run(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        use_postgresql()  # the indexes' PostgreSQL options (engine.tables)
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite alters tables by copying them
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    with create_engine(config.get_main_option("sqlalchemy.url") or "").begin() as conn:
        _run(conn)
