"""Alembic environment for launchdeck's release store.

Run by ``Store(url)`` (through ``launchdeck.store.migrations.upgrade``) with the open connection in
``config.attributes["connection"]``: the migration then runs inside the caller's transaction, which
also holds the schema lock. Run by the ``alembic`` command (see alembic.ini beside this file) it
connects to ``-x db=URL``, ``LAUNCHDECK_DB`` or ``sqlalchemy.url``, in that order.
"""

from __future__ import annotations

import os
from logging.config import fileConfig
from typing import Any

from alembic import context
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection

from launchdeck.store.migrations import VERSION_TABLE
from launchdeck.store.tables import Base, JSONDoc, UTCDateTime

config = context.config


def _render_item(kind: str, obj: Any, autogen_context: Any) -> str | bool:
    """Autogenerate writes launchdeck's column types as plain SQLAlchemy types, so a revision never
    depends on the model code as it is later."""
    if kind == "type" and isinstance(obj, JSONDoc):
        autogen_context.imports.add("from sqlalchemy.dialects import postgresql")
        return 'sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")'
    if kind == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _options() -> dict[str, Any]:
    return {"target_metadata": Base.metadata, "version_table": VERSION_TABLE, "render_as_batch": True,
            "compare_type": True, "render_item": _render_item}


def _url() -> str:
    url = (context.get_x_argument(as_dictionary=True).get("db") or os.environ.get("LAUNCHDECK_DB")
           or config.get_main_option("sqlalchemy.url"))
    if not url:
        raise SystemExit("no database: pass -x db=URL or set LAUNCHDECK_DB")
    return url


def _run(connection: Connection) -> None:
    context.configure(connection=connection, **_options())
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    context.configure(url=_url(), literal_binds=True, dialect_opts={"paramstyle": "named"}, **_options())
    with context.begin_transaction():
        context.run_migrations()
elif (given := config.attributes.get("connection")) is not None:
    _run(given)
else:
    if config.config_file_name is not None:
        fileConfig(config.config_file_name, disable_existing_loggers=False)
    with create_engine(_url()).begin() as conn:
        _run(conn)
