"""Alembic environment of the campaign store, run by `amala.loop.schema.upgrade` (there is no
alembic.ini): the store passes its open connection in `config.attributes["connection"]`, so the
same code migrates a SQLite file, an in-memory SQLite database and PostgreSQL."""

from alembic import context
from sqlmodel import SQLModel

import amala.loop.tables  # noqa: F401  (registers the tables: the metadata autogenerate compares with)

if context.is_offline_mode():
    raise SystemExit("amala migrations run online only, on the store's connection (amala.loop.schema)")
connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=SQLModel.metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
