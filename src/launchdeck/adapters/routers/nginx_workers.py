"""nginx's worker processes, read from /proc: after a graceful reload the new weights are only
"in effect" once every worker of the previous configuration has stopped accepting connections."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from launchdeck.errors import WeightNotApplied

POLL_S = 0.005


def workers_of(master: int | None) -> set[int]:
    """The master's worker processes now (empty when unknown: no master pid or no /proc)."""
    if master is None:
        return set()
    try:  # the kernel's list of children (CONFIG_PROC_CHILDREN), else a scan of /proc
        children = [int(pid) for pid in
                    Path(f"/proc/{master}/task/{master}/children").read_text().split()]
    except (OSError, ValueError):
        children = []
        try:
            entries = [e for e in os.listdir("/proc") if e.isdigit()]
        except OSError:
            return set()
        for entry in entries:
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == master:
                children.append(int(entry))
    workers = set()
    for pid in children:
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"worker process" in cmdline and b"shutting down" not in cmdline:
            workers.add(pid)
    return workers

async def await_old_workers(old: set[int], deadline: float, timeout_s: float) -> None:
    """Wait until each old worker stopped accepting (title "shutting down") or exited."""
    loop = asyncio.get_running_loop()
    pending = set(old)
    while pending:
        for pid in list(pending):
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                pending.discard(pid)
                continue
            if b"shutting down" in cmdline or b"worker process" not in cmdline:
                pending.discard(pid)
        if not pending:
            return
        if loop.time() >= deadline:
            raise WeightNotApplied(
                f"nginx serves the new weights, but {len(pending)} worker(s) of the previous "
                f"configuration (pid {', '.join(map(str, sorted(pending)))}) were still "
                f"accepting connections {timeout_s:g} s after the reload",
                hint="check nginx's error log; the old workers may be stuck",
            )
        await asyncio.sleep(POLL_S)
