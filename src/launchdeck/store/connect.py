"""Connecting to the store's database: timeouts, and SQLite's WAL mode set safely by many processes."""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url


#: Seconds to wait for a PostgreSQL server to answer before giving up (unless the URL sets its own).
CONNECT_TIMEOUT_S = 10


#: How long an SQLite connection waits for another process's write lock before "database is locked".
SQLITE_BUSY_TIMEOUT_MS = 30_000


def engine(url: str) -> Engine:
    """An SQLAlchemy engine for the store's URL, with launchdeck's timeouts (and WAL for SQLite)."""
    parsed = make_url(url)
    args: dict[str, Any] = {}
    if parsed.get_backend_name() == "postgresql":
        from launchdeck.store.tables import dumps_exact, loads_exact

        # JSONB written and read back with JSONDoc's floats exact
        args["json_serializer"], args["json_deserializer"] = dumps_exact, loads_exact
        if "connect_timeout" not in parsed.query:
            args["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT_S}
    elif parsed.get_backend_name() == "sqlite":
        args["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}  # the driver's own wait, too
    made = create_engine(parsed, **args)
    if made.dialect.name == "sqlite":
        event.listen(made, "connect", _sqlite_pragmas)
    return made


def _sqlite_pragmas(conn: Any, _record: Any) -> None:
    cur = conn.cursor()
    # First, since switching to WAL may wait for another process. Generous: a process creating the
    # schema holds the write lock while Alembic runs, which on a loaded 2-core machine took over 5 s.
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    _switch_to_wal(cur)
    cur.close()


def _switch_to_wal(cur: Any) -> None:
    """WAL mode, kept in the file once set. Switching needs the database to itself, and SQLite answers
    "database is locked" at once, without its busy wait, while another connection holds it: several
    processes opening a new database together (a run and `approve`) would fail at random. So the
    switch is retried within the same busy timeout, and skipped when the file is in WAL already."""
    if str(cur.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
        return
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cur.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() >= deadline:
                raise
            time.sleep(0.01)
