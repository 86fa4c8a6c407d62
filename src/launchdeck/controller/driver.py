"""Who drives a release: this process's lease holder name, and whether a holder can still be running.

A run (``launchdeck run``) or a worker drives a release while it holds the release's lease
(``launchdeck.store.leases``). The holder's name is ``host/pid/nonce``: on the same host a holder
whose process has exited is known dead, and its lease is taken over at once instead of after it
expires (a crashed `launchdeck run` started again goes on immediately); a holder on another host
is alive until its lease expires. The run also records ``driver`` (pid and host) in the release
state, for people: "the run driving it (pid 4242 on build-7)".
"""

from __future__ import annotations

import os
import secrets
import socket
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from launchdeck.store.repo import StoredRelease

#: Seconds a lease lasts unless renewed (every tick commit renews it; a takeover waits this long
#: for a holder that is not known dead).
LEASE_SECONDS = 15.0


@cache
def holder_id() -> str:
    """This process's name as a lease holder (fixed for the process's life)."""
    return f"{socket.gethostname()}/{os.getpid()}/{secrets.token_hex(3)}"


def me() -> dict[str, Any]:
    return {"pid": os.getpid(), "host": socket.gethostname(), "holder": holder_id()}


def dead(holder: str) -> bool:
    """True when ``holder`` cannot be running: a process of this host that has exited (or a pid now
    used by another process: its nonce differs from ours when it is us)."""
    host, _, rest = holder.partition("/")
    pid_text = rest.partition("/")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return holder != holder_id()
    return not _process_alive(pid)


def alive(release: StoredRelease, *, now: datetime | None = None) -> bool:
    """Is another process driving the release right now (its lease live and its holder not dead)?"""
    holder = release.lease_holder
    if holder is None or release.lease_until is None or holder == holder_id():
        return False
    return release.lease_until > (now or datetime.now(UTC)) and not dead(holder)


def describe(release: StoredRelease) -> str:
    """Who drives the release, for people: 'pid 4242 on build-7'."""
    host, _, rest = (release.lease_holder or "").partition("/")
    pid = rest.partition("/")[0]
    return f"pid {pid} on {host}" if pid else "another process"


def _process_alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
