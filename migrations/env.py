"""Alembic environment for the request database.

The URL is DATABASE_URL (clinic.settings.database_url()); clinic.store.migrate()
passes an open connection instead, so tests and ops/stack.py migrate whichever
database they use.
"""
from __future__ import annotations

from logging.config import fileConfig

from alembic import context

from clinic.settings import database_url
from clinic.store import Base, engine
import clinic.handover  # noqa: F401,E402  (hand-over state, on the same Base)
import staff.console.models  # noqa: F401,E402  (the staff console's tables, on the same Base)

config = context.config
if config.config_file_name is not None and not config.attributes.get("skip_logging_config"):
    fileConfig(config.config_file_name)

target_metadata = Base.metadata


def run_migrations_offline() -> None:
    """Emit SQL to stdout (alembic upgrade head --sql) instead of running it."""
    context.configure(url=database_url(), target_metadata=target_metadata, literal_binds=True,
                      render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    with engine(database_url()).begin() as opened:
        _run(opened)


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    # Batch mode lets later revisions alter tables on SQLite too.
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
