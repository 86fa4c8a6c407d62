"""Who may deliver a release's outbox right now: one process at a time, across processes.

A run delivers its outbox beside the tick loop while an operator may run `launchdeck messages
flush` on the same release. If both sent the same queued message, a receiver would see it twice,
so delivery happens only while holding the release's outbox claim. The claim is a lock the
operating system or the database drops by itself when its holder dies (a killed process never
leaves a release's messages stuck), and it is separate from the release row, so holding it never
holds up a tick's commit:

* PostgreSQL: a session-level advisory lock, keyed by the schema and the release id, held on a
  connection of its own;
* SQLite: ``flock`` on ``<database>.locks/outbox-<release id>``, beside the database file;
* an in-memory SQLite database lives in one process: a lock in that process.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Engine

from launchdeck.errors import StoreError

_LOCAL: dict[tuple[int, int], threading.Lock] = {}
_LOCAL_GUARD = threading.Lock()


@contextmanager
def outbox_claim(engine: Engine, release_id: int) -> Iterator[bool]:
    """Try once to claim the release's outbox: yields True while it is held here, False when
    another process (or another claim in this one) holds it. Never waits."""
    if engine.dialect.name == "postgresql":
        with _advisory(engine, release_id) as held:
            yield held
        return
    database = engine.url.database or ""
    if engine.dialect.name == "sqlite" and database and database != ":memory:" and not database.startswith("file:"):
        with _flock(Path(f"{database}.locks") / f"outbox-{release_id}") as held:
            yield held
        return
    with _in_process(engine, release_id) as held:
        yield held


@contextmanager
def _advisory(engine: Engine, release_id: int) -> Iterator[bool]:
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        schema = conn.execute(text("SELECT current_schema()")).scalar() or ""
        digest = hashlib.sha256(f"launchdeck-outbox:{schema}:{release_id}".encode()).digest()
        key = int.from_bytes(digest[:8], "big", signed=True)
        held = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar())
        try:
            yield held
        finally:
            if held:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})


@contextmanager
def _flock(path: Path) -> Iterator[bool]:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as e:
        raise StoreError(f"cannot open the outbox lock {path}: {e.strerror}",
                         hint="the directory beside the SQLite database must be writable") from e
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


@contextmanager
def _in_process(engine: Engine, release_id: int) -> Iterator[bool]:
    with _LOCAL_GUARD:
        lock = _LOCAL.setdefault((id(engine), release_id), threading.Lock())
    held = lock.acquire(blocking=False)
    try:
        yield held
    finally:
        if held:
            lock.release()
