"""Is a process driving this release right now? Commands that act on a release (kill) need to know.

A run records itself as the release's driver (pid and host) when it opens the release, and saves the
release at every tick. On the same host a driver is alive while its process is; from another host,
while its saves are recent.
"""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from launchdeck.store.repo import StoredRelease

#: A release not saved for this long has no driver (a tick saves every fraction of a second; a
#: rollback step or a router call may take several seconds).
STALE_AFTER_S = 30.0


def me() -> dict[str, Any]:
    return {"pid": os.getpid(), "host": socket.gethostname()}


def alive(release: StoredRelease, *, now: datetime | None = None) -> bool:
    driver = release.state.get("driver")
    if not driver:
        return False
    if driver.get("host") == socket.gethostname():
        return _process_alive(int(driver["pid"]))
    if release.updated_at is None:
        return False
    now = now or datetime.now(UTC)
    return (now - release.updated_at).total_seconds() < STALE_AFTER_S


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return False  # this very process is the one asking: it is not driving the run
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
