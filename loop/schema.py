"""Bringing a campaign database to the schema of this amala: Alembic migrations in
`loop/migrations/versions`, run on the store's own connection (SQLite file, in-memory SQLite or
PostgreSQL alike).

Why not `alembic upgrade head` every time: stores are opened hundreds of times (tests, benchmarks,
`amala status`), so a brand-new database gets `create_all` plus a version stamp, and one already at
head costs one query; only an older database runs migrations. A database written before amala used
Alembic has no version table: it is stamped with the revision its columns show (each release
before Alembic added the missing columns of all earlier ones at once), then upgraded, nothing lost.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.engine import Connection, Engine
from sqlmodel import SQLModel

import amala.loop.tables  # noqa: F401  (the tables create_all makes)

MIGRATIONS = Path(__file__).with_name("migrations")
# a database from before Alembic is at the newest of these revisions whose column it has
PRE_ALEMBIC_MARKERS = [("0004_run_lease", "campaign", "run_owner"), ("0003_approvals", "candidate", "provenance"),
                       ("0002_evaluation_provenance", "evaluation", "provenance")]
FIRST = "0001_initial"


class SchemaError(RuntimeError):
    """A database this amala cannot bring to its schema (e.g. written by a newer amala)."""


@lru_cache(maxsize=1)
def _scripts() -> tuple[Config, ScriptDirectory]:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config, ScriptDirectory.from_config(config)


def head() -> str:
    return _scripts()[1].get_current_head()


def upgrade(engine: Engine) -> str | None:
    """Bring the database to head in one transaction; returns the revision it was at (None: new or
    pre-Alembic)."""
    with engine.connect() as connection:  # the common case, a database at head: one read, no lock
        current = MigrationContext.configure(connection).get_current_revision()
    if current is not None and current == head():
        return current
    with engine.begin() as connection:
        if connection.dialect.name == "sqlite":
            # SQLite's driver runs DDL outside any transaction unless told: two processes opening one
            # new file at the same moment (two `amala run`s) would each see no tables and create
            # them, one statement at a time, and one would fail (`table campaign already exists`) or
            # see half a schema. The write lock first: the second waits, then finds the schema at head.
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        return upgrade_connection(connection)


def upgrade_connection(connection: Connection) -> str | None:
    """`upgrade` on an open connection (an async engine's, through `run_sync`, too)."""
    config, scripts = _scripts()
    current = MigrationContext.configure(connection).get_current_revision()
    if current == scripts.get_current_head():
        return current
    if current is None:
        if "campaign" not in set(inspect(connection).get_table_names()):
            SQLModel.metadata.create_all(connection)
            _stamp(connection, "head")
            return None
        _stamp(connection, _pre_alembic_revision(connection))
    elif current not in {s.revision for s in scripts.walk_revisions()}:
        raise SchemaError(f"{connection.engine.url.render_as_string(hide_password=True)}: schema revision "
                          f"{current!r} is not known to this amala (newest {scripts.get_current_head()!r}); "
                          "upgrade amala")
    config.attributes["connection"] = connection
    try:
        command.upgrade(config, "head")
    finally:
        config.attributes.pop("connection", None)
    return current


def _stamp(connection: Connection, revision: str) -> None:
    """Record the revision without running env.py (the cheap path of a brand-new store)."""
    MigrationContext.configure(connection).stamp(_scripts()[1], revision)


def _pre_alembic_revision(connection: Connection) -> str:
    inspector = inspect(connection)
    for revision, table, column in PRE_ALEMBIC_MARKERS:
        if inspector.has_table(table) and column in {c["name"] for c in inspector.get_columns(table)}:
            return revision
    return FIRST
