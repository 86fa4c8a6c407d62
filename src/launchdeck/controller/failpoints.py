"""Named crash points for the crash-safety tests: the process kills itself with SIGKILL where told.

``LAUNCHDECK_FAILPOINT=<name>`` (optionally ``<name>@<n>``: at the n-th time it is reached) makes the
run die at that point exactly as a power cut or ``kill -9`` would: no cleanup, no flush, no finally.
The points sit at the boundaries the crash-safety promise is about (after ``release.started``, after a
stage passes, between rollback steps, after a rollback step's command ran and before it is recorded, right after the outcome commit, during wrap-up). Unset, a
point costs one dictionary lookup.
"""

from __future__ import annotations

import os
import signal

ENV = "LAUNCHDECK_FAILPOINT"
_seen: dict[str, int] = {}


def reached(name: str) -> None:
    wanted = os.environ.get(ENV)
    if not wanted:
        return
    point, _, nth = wanted.partition("@")
    if point != name:
        return
    _seen[name] = _seen.get(name, 0) + 1
    if _seen[name] >= int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)
