"""Release trains: one release per service, started when everything it comes after is promoted.

Independent services run in parallel in one event loop, each with its own target, clock, decisions
and evidence. ``onServiceRollback`` says what a service that did not get promoted does to the rest:
``halt-dependents`` (default) keeps every service that depends on it, directly or not, from
starting; ``halt-train`` starts nothing new; ``continue`` lets dependents start once it finished.
"""

from __future__ import annotations

import asyncio
from contextlib import suppress
from typing import Any, Callable

from launchdeck.controller.messages import iso
from launchdeck.controller.runner import RunOptions, View, run_release
from launchdeck.controller.session import Stopped
from launchdeck.errors import LaunchdeckError, LeaseLost
from launchdeck.plan import LoadedPlan, model
from launchdeck.store import leases
from launchdeck.store.leases import Lease
from launchdeck.store.repo import NewDecision, Store

ViewFactory = Callable[[str], View]


def service_plan(train: LoadedPlan, entry: model.ServiceEntry, spec: model.ReleaseSpec) -> LoadedPlan:
    md = train.doc.metadata
    doc = model.ReleaseDoc.model_validate({
        "apiVersion": "launchdeck/v1", "kind": "Release", "spec": spec,
        "metadata": {"name": f"{md.name}.{entry.name}", "tenant": md.tenant, "service": entry.name,
                     "version": md.version, "previousVersion": md.previous_version, "labels": md.labels},
    })
    return LoadedPlan(train.path, train.digest, doc)


async def run_train(train: LoadedPlan, opts: RunOptions, views: ViewFactory,
                    stop: asyncio.Event | None = None) -> dict[str, Any]:
    """Run the train's services in their order, each as `launchdeck run` runs a release; the train's summary.

    Run again (after a crash, or by another worker), it goes on where it was: a finished service reports its
    outcome, an unfinished one resumes. ``stop`` set: each running service finishes its tick and gives its
    lease up, and ``Stopped`` is raised once all have."""
    assert isinstance(train.doc, model.TrainDoc)
    policy = train.doc.spec.on_service_rollback
    entries = {entry.name: (entry, spec) for entry, spec in train.services}
    outcome: dict[str, str] = {}
    started: dict[str, str] = {}
    finished: dict[str, str] = {}
    summaries: dict[str, dict[str, Any]] = {}
    running: dict[asyncio.Task[dict[str, Any]], str] = {}
    halted = False

    def blocked(name: str) -> bool:
        after = entries[name][0].after
        if policy == "continue":
            return False
        return any(outcome.get(dep, "promoted") != "promoted" and dep in outcome for dep in after)

    while True:
        for name, (entry, spec) in entries.items():
            if name in outcome or name in started:
                continue
            if halted or blocked(name):
                outcome[name] = "not_started"
                continue
            ready = all(outcome.get(dep) == "promoted" or (policy == "continue" and dep in outcome)
                        for dep in entry.after)
            if ready:
                started[name] = iso()
                task = asyncio.create_task(run_release(service_plan(train, entry, spec), opts, views(name), stop=stop))
                running[task] = name
        if not running:
            break
        done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            name = running.pop(task)
            finished[name] = iso()
            if task.exception() is not None and running:
                # The others end before this goes up: at their tick's end when stopping, else cancelled now
                # (each gives its lease up), so no service is left driven behind the caller's back.
                if stop is None or not stop.is_set():
                    for other in running:
                        other.cancel()
                await asyncio.gather(*running, return_exceptions=True)
            summary = task.result()
            summaries[name] = summary
            outcome[name] = summary["outcome"] or "aborted"
            if outcome[name] != "promoted" and policy == "halt-train":
                halted = True
    for name in entries:
        outcome.setdefault(name, "not_started")
    return _summary(train, entries, outcome, started, finished, summaries)


def _summary(train: LoadedPlan, entries: dict[str, Any], outcome: dict[str, str], started: dict[str, str],
             finished: dict[str, str], summaries: dict[str, dict[str, Any]]) -> dict[str, Any]:
    values = [outcome[n] for n in entries]
    if all(v == "promoted" for v in values):
        overall = "promoted"
    elif "rolled_back" in values:
        overall = "rolled_back"
    elif "held" in values or "refused" in values:
        overall = "held" if "held" in values else "refused"
    else:
        overall = "aborted"
    failed = next((n for n in entries if outcome[n] not in ("promoted", "not_started")), None)
    fired = summaries[failed].get("firedGate") if failed else None
    return {
        "release": train.name, "outcome": overall,
        "firedGate": f"{failed}/{fired}" if failed and fired else None,
        "stagesPassed": sum(s.get("stagesPassed", 0) for s in summaries.values()),
        "canaryRequests": sum(s.get("canaryRequests", 0) for s in summaries.values()),
        "canaryErrors": sum(s.get("canaryErrors", 0) for s in summaries.values()),
        "services": [{"name": n, "outcome": outcome[n], "startedAt": started.get(n), "finishedAt": finished.get(n),
                      "evidence": summaries[n]["evidence"] if n in summaries else None,
                      "reason": summaries[n].get("reason") if n in summaries else None} for n in entries],
        "undelivered": {"count": sum(s.get("undelivered", {}).get("count", 0) for s in summaries.values()),
                        "channels": sorted(f"{n}/{c}" for n, s in summaries.items()
                                           for c in s.get("undelivered", {}).get("channels", []))},
        "reason": f"{sum(v == 'promoted' for v in values)}/{len(values)} services promoted"
                  + (f"; {failed} ended {outcome[failed]}" if failed else ""),
    }


async def drive_train(train: LoadedPlan, opts: RunOptions, views: ViewFactory, store: Store, lease: Lease,
                      stop: asyncio.Event | None = None) -> dict[str, Any]:
    """Drive a train submitted to the workers (``submit.submit_train``) while holding its row's lease:
    ``run_train``, the path `launchdeck run TRAIN` takes, with the row's lease renewed meanwhile; then the
    train's outcome is recorded on its row (one decision with the summary's reason).

    Its services are releases of their own (``TRAIN.SERVICE``) that only the train's driver drives: when it
    stops or dies, whoever takes the train's row over resumes them where they were. A lost lease on the row
    stops the services at their tick's end and raises ``LeaseLost``."""
    found = store.find_id(lease.release_id)
    if found.outcome:  # recorded already: a driver that died after recording it
        return dict(found.state.get("train", {}).get("summary") or {"release": found.name, "outcome": found.outcome})
    halt = asyncio.Event()
    lost: list[LeaseLost] = []

    async def keep() -> None:
        while not halt.is_set():
            with suppress(TimeoutError):
                await asyncio.wait_for(_either(stop, halt), lease.seconds / 3)
            if halt.is_set():
                return
            if stop is not None and stop.is_set():
                halt.set()
                return
            try:
                await asyncio.to_thread(leases.renew, store, lease)
            except LeaseLost as e:
                lost.append(e)
                halt.set()
            except LaunchdeckError:
                pass  # the database is away: the services' own commits say so, and the lease may lapse

    keeping = asyncio.create_task(keep())
    try:
        summary = await run_train(train, opts, views, stop=halt)
    except Stopped:
        if lost:
            raise lost[0] from None
        raise
    finally:
        halt.set()
        await keeping
    state = {**found.state, "engine": {**found.state.get("engine", {}), "phase": "done", "reason": summary["reason"],
                                       "fired_gate": summary.get("firedGate"),
                                       "stages_passed": summary.get("stagesPassed", 0)},
             "train": {**found.state.get("train", {}), "summary": summary}}
    outcome = summary["outcome"]
    decision = NewDecision(plan_at=found.plan_clock, kind=f"release.{outcome}", reason=summary["reason"], gate=None,
                           inputs={"services": [{"name": s["name"], "outcome": s["outcome"]}
                                                for s in summary["services"]]})
    store.save(release_id=found.id, state=state, plan_clock=found.plan_clock, outcome=outcome, decisions=[decision],
               messages=[], lease=lease)
    return summary


async def _either(stop: asyncio.Event | None, halt: asyncio.Event) -> None:
    waits = [asyncio.create_task(e.wait()) for e in (stop, halt) if e is not None]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()
