"""Alembic migrations for the release store, shipped inside the package.

``upgrade(engine)`` brings a database to the newest revision; ``Store(url)`` calls it on every open.
It is safe for several processes opening the same database at once (a run and `launchdeck approve`,
two runs): the upgrade happens under a lock held for its whole transaction —

* PostgreSQL: ``pg_advisory_xact_lock`` (released when the transaction ends, even if the process dies);
  PostgreSQL's DDL is transactional, so a failed upgrade leaves nothing behind;
* SQLite: ``BEGIN IMMEDIATE``, the database file's write lock (others wait up to the busy timeout);
  SQLite's DDL is transactional too once a transaction is open;

and, under the lock, the schema version is read again, so the second process finds the work done.
A database already at the newest revision (``HEAD``) is recognised with one read, no lock, and
without loading Alembic, which would add about half a second of CPU to every command that opens
the store; Alembic is imported only to upgrade.

A database written by launchdeck before it had migrations (``create_all``: launchdeck's tables but
no version table) is stamped with the first revision, which creates exactly those tables, and then
upgraded. The version table is ``launchdeck_alembic_version`` rather than Alembic's default, so a
database shared with another application that uses Alembic keeps both histories apart.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine

if TYPE_CHECKING:
    from alembic.config import Config

HERE = Path(__file__).resolve().parent
VERSION_TABLE = "launchdeck_alembic_version"
#: The first revision: the tables as ``Base.metadata.create_all`` made them before migrations existed.
BASELINE = "0001"
#: The newest revision: what ``heads()`` reads from the scripts (a test checks they agree), known
#: here so that opening an up-to-date database needs no Alembic. A new revision updates it.
HEAD = "0008"
LEGACY_TABLES = frozenset({"releases", "decisions", "signoffs", "outbox"})
#: Key of PostgreSQL's transaction-level advisory lock taken around an upgrade (any fixed bigint;
#: this one is "ldschema" in ASCII).
ADVISORY_LOCK_KEY = 0x6C64736368656D61


class SchemaError(Exception):
    """The database holds something the migrations cannot work with (the store turns it into a StoreError)."""


def config(connection: Connection | None = None) -> Config:
    """Alembic's configuration, built in code: no alembic.ini needs to be found at run time."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    cfg.set_main_option("path_separator", "os")
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


@cache
def heads() -> frozenset[str]:
    """The newest revisions, as Alembic reads them from the scripts."""
    from alembic.script import ScriptDirectory

    return frozenset(ScriptDirectory.from_config(config()).get_heads())


def current(connection: Connection) -> frozenset[str]:
    """The revisions the database is at (empty for a new database): the rows of the version table,
    read as Alembic's MigrationContext.get_current_heads reads them."""
    if not inspect(connection).has_table(VERSION_TABLE):
        return frozenset()
    return frozenset(connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars())


def upgrade(engine: Engine) -> None:
    """Bring the database to the newest revision, concurrently with other processes doing the same."""
    with engine.connect() as conn:
        at_head = current(conn) == {HEAD}
    if at_head:
        return
    from alembic import command

    with engine.begin() as conn:
        _lock(conn)
        if current(conn) == heads():  # another process did it while we waited for the lock
            return
        _stamp_legacy(conn)
        command.upgrade(config(conn), "head")


def _lock(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
    elif conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def _stamp_legacy(conn: Connection) -> None:
    tables = set(inspect(conn).get_table_names())
    if VERSION_TABLE in tables:
        return
    ours = LEGACY_TABLES & tables
    if not ours:
        return
    if ours != LEGACY_TABLES:
        missing = ", ".join(sorted(LEGACY_TABLES - ours))
        raise SchemaError(f"the database has some of launchdeck's tables but not {missing}, and no "
                          f"{VERSION_TABLE} table: it was not made by launchdeck, or only in part")
    from alembic import command

    command.stamp(config(conn), BASELINE)
