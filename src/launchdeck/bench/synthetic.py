"""A synthetic in-process target for the scale benchmark (``bench/scale.py``): what is measured is the
control plane alone, with no process, socket or load generator per release.

* ``SyntheticRouter`` keeps the canary's weight in memory and logs every write (weight, kill, drain)
  with the lease it was sent under (holder and epoch, from ``current_lease``, which ``LeasedWorker``
  sets for each release it drives). Given a ``check``, it also asks the store at send time whether
  that lease is still the release's: a write sent under an epoch that is no longer the release's is
  a stale write, which fencing must make impossible.
* ``SyntheticMetrics`` answers healthy numbers at once: the window's requests at a fixed rate split
  by the router's weight, a fixed error rate and a fixed latency distribution.
* ``TickLag`` is a view that records, for every evaluation, how late it ran: the plan time it ran
  at minus the plan time it was due (the previous evaluation, or the stage's start, plus the
  plan's interval). At time scale 1 those are wall seconds.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from contextlib import AsyncExitStack
from contextvars import ContextVar
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, TextIO

from launchdeck.adapters.routers import Split, check_percent, no_baseline
from launchdeck.controller.target import Target
from launchdeck.controller.worker import Worker
from launchdeck.core.engine import Decision
from launchdeck.core.observation import WindowStats
from launchdeck.core.sketch import LatencyHistogram, bucket_of
from launchdeck.plan import model
from launchdeck.store import leases
from launchdeck.store.leases import Lease
from launchdeck.store.repo import Store, StoredRelease

#: The lease of the release the current task drives (set by ``LeasedWorker`` in each release's task).
current_lease: ContextVar[Lease | None] = ContextVar("current_lease", default=None)


@dataclass(frozen=True)
class Write:
    """One write a synthetic router sent."""

    release_id: int
    holder: str
    epoch: int
    what: str
    wall: float
    stale: bool | None = None
    """True: the release's lease was no longer this one when it was sent; None: not checked."""


class WriteLog:
    """Every write this process's synthetic routers sent, kept in memory and, with ``path``, appended to
    a JSON-lines file line by line (a worker killed with SIGKILL loses none of what it sent)."""

    def __init__(self, path: Path | None = None) -> None:
        self.writes: list[Write] = []
        self._file: TextIO | None = path.open("a", encoding="utf-8", buffering=1) if path else None
        self._lock = threading.Lock()

    def add(self, write: Write) -> None:
        with self._lock:
            self.writes.append(write)
            if self._file is not None:
                self._file.write(json.dumps(asdict(write)) + "\n")

    def close(self) -> None:
        if self._file is not None:
            self._file.close()

    @staticmethod
    def read(path: Path) -> list[Write]:
        if not path.exists():
            return []
        return [Write(**json.loads(line)) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def lease_check(store: Store) -> Callable[[Lease], bool]:
    """Whether ``lease`` is the release's lease in the store right now (holder and epoch)."""
    def still_held(lease: Lease) -> bool:
        now = leases.holder(store, lease.release_id)
        return now.holder == lease.holder and now.epoch == lease.epoch
    return still_held


class SyntheticRouter:
    """A router whose weight lives in memory; every write is logged with its lease."""

    type = "synthetic"

    def __init__(self, lease: Lease | None, log: WriteLog, check: Callable[[Lease], bool] | None = None) -> None:
        self.lease, self.log, self.check = lease, log, check
        self.weight = 0.0

    def _sent(self, what: str) -> None:
        lease = self.lease
        if lease is None:
            self.log.add(Write(0, "", 0, what, time.time()))
            return
        stale = None if self.check is None else not self.check(lease)
        self.log.add(Write(lease.release_id, lease.holder, lease.epoch, what, time.time(), stale))

    async def set_weight(self, canary_percent: float, baseline_percent: float = 0.0) -> None:
        no_baseline(self.type, baseline_percent)  # the scale bench releases have no same-age baseline
        weight = check_percent(canary_percent)
        self._sent(f"set-weight:{weight:g}")
        self.weight = weight

    async def current_weight(self) -> float:
        return self.weight

    async def current_split(self) -> Split:
        return Split(self.weight)

    async def kill(self) -> None:
        self._sent("kill")
        self.weight = 0.0

    async def drain(self) -> None:
        self._sent("drain")


#: A healthy service's latencies (ms) in proportion: median 20 ms, p95 about 60 ms.
_SHAPE = {bucket_of(15.0): 30, bucket_of(20.0): 25, bucket_of(30.0): 30, bucket_of(45.0): 10, bucket_of(60.0): 5}


@dataclass
class SyntheticMetrics:
    """Healthy numbers at once: ``rps`` requests a second of plan time shared by the router's weight,
    ``error_rate`` of them failed, latencies of a fixed shape."""

    router: SyntheticRouter
    rps: float = 100.0
    error_rate: float = 0.001
    time_scale: float = 1.0

    async def observe(self, version: str, start: float, end: float) -> WindowStats:
        seconds = max(0.0, end - start) * self.time_scale
        share = self.router.weight / 100.0 if version == "canary" else 1.0 - self.router.weight / 100.0
        requests = int(self.rps * share * seconds)
        return WindowStats(version, requests, round(requests * self.error_rate), seconds, share, _latency(requests))


@lru_cache(maxsize=4096)
def _latency(requests: int) -> LatencyHistogram:
    """The histogram of ``requests`` healthy requests (shared, never changed: a window's counts repeat, and
    the bench measures the control plane, not this target)."""
    unit = requests / 100.0
    return LatencyHistogram({b: round(c * unit) for b, c in _SHAPE.items() if round(c * unit)})


@dataclass
class SyntheticTarget:
    """Opens the synthetic target for every release of this process (a ``controller.target.TargetOpener``)."""

    log: WriteLog = field(default_factory=WriteLog)
    check: Callable[[Lease], bool] | None = None
    rps: float = 100.0
    opened: int = 0

    async def __call__(self, spec: model.ReleaseSpec, metadata: model.Metadata, *, stack: AsyncExitStack,
                       time_scale: float, plan_offset: float, seed: int | None = None,
                       workdir: Path = Path(".")) -> Target:
        self.opened += 1
        router = SyntheticRouter(current_lease.get(), self.log, self.check)
        return Target(router, SyntheticMetrics(router, rps=self.rps, time_scale=time_scale), None, None)


@dataclass
class LeasedWorker(Worker):
    """A worker that makes each release's lease known to its task (``current_lease``), so the synthetic
    router can say which lease every write was sent under."""

    async def _drive(self, store: Store, lease: Lease, stop: Any, *rest: Any) -> None:
        current_lease.set(lease)  # a task's context is its own: this is this release's lease only
        await super()._drive(store, lease, stop, *rest)


# -- tick lag ---------------------------------------------------------------------------------------------


@dataclass
class LagSamples:
    """How late each evaluation ran (seconds), with the wall time it was recorded at."""

    interval: float
    samples: list[tuple[float, float]] = field(default_factory=list)
    evaluations: int = 0
    releases: set[str] = field(default_factory=set)
    starts: dict[int, float] = field(default_factory=dict)
    """Wall time each release's current stage started at, by view: from it the evaluations due in a window."""
    _dumped: int = 0

    def view(self, found: StoredRelease) -> TickLag:
        self.releases.add(found.name)
        return TickLag(self)

    def lags(self, since: float = 0.0) -> list[float]:
        return [lag for wall, lag in self.samples if wall >= since]

    def dump(self, path: Path) -> None:
        """Write what a reader needs to ``path`` (JSON: the interval, the stage starts) and append the samples
        taken since the last dump to ``<path>.samples`` (a line ``wall lag`` each): rewriting every sample at
        every dump would cost the worker more and more of the CPU the bench measures."""
        with path.with_name(path.name + ".samples").open("a", encoding="utf-8") as out:
            out.writelines(f"{wall!r} {lag!r}\n" for wall, lag in self.samples[self._dumped:])
        self._dumped = len(self.samples)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"pid": os.getpid(), "interval": self.interval, "releases": len(self.releases),
                                   "starts": list(self.starts.values())}), encoding="utf-8")
        tmp.replace(path)

    @staticmethod
    def read(path: Path) -> tuple[dict[str, Any], list[tuple[float, float]]]:
        """What ``dump`` wrote: the JSON, and the samples."""
        data = json.loads(path.read_text(encoding="utf-8"))
        if "samples" in data:  # written whole, as a tree before the appended samples did
            return data, [(wall, lag) for wall, lag in data["samples"]]
        samples = path.with_name(path.name + ".samples")
        lines = samples.read_text(encoding="utf-8").split("\n")[:-1] if samples.exists() else []  # whole lines only
        return data, [(float(w), float(v)) for w, v in (line.split() for line in lines)]


class TickLag:
    """One release's view: records the lag of each evaluation, shows nothing."""

    def __init__(self, samples: LagSamples) -> None:
        self.samples = samples
        self.last: float | None = None

    def note(self, text: str) -> None:
        pass

    def tick(self, snapshot: dict[str, Any]) -> None:
        pass

    def decision(self, d: Decision) -> None:
        if d.kind == "stage.started":
            self.last = d.at
            self.samples.starts[id(self)] = time.time()
        elif d.kind == "evaluation":
            if self.last is not None:
                self.samples.samples.append((time.time(), d.at - (self.last + self.samples.interval)))
                self.samples.evaluations += 1
            self.last = d.at
