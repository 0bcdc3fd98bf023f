"""Alembic environment of kaiban's store: run by ``store.db.upgrade`` with an open connection.

Without one (the ``alembic`` command line), it connects to ``sqlalchemy.url`` or, failing that,
to the ``database_url`` of kaiban's settings.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from store.db import database_url, make_engine
from store.tables import Base

config = context.config


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        from runtime.settings import get_settings

        url = get_settings().database_url
    return database_url(url).render_as_string(hide_password=False)


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # ALTER on SQLite copies the table
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    context.configure(url=_url(), target_metadata=Base.metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
elif (connection := config.attributes.get("connection")) is not None:
    _run(connection)
else:
    engine = make_engine(_url())
    try:
        with engine.begin() as conn:
            _run(conn)
    finally:
        engine.dispose()
