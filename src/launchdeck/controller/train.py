"""Release trains: one release per service, started when everything it comes after is promoted.

Independent services run in parallel in one event loop, each with its own target, clock, decisions
and evidence. ``onServiceRollback`` says what a service that did not get promoted does to the rest:
``halt-dependents`` (default) keeps every service that depends on it, directly or not, from
starting; ``halt-train`` starts nothing new; ``continue`` lets dependents start once it finished.
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable

from launchdeck.controller.messages import iso
from launchdeck.controller.runner import RunOptions, View, run_release
from launchdeck.plan import LoadedPlan, model

ViewFactory = Callable[[str], View]


def service_plan(train: LoadedPlan, entry: model.ServiceEntry, spec: model.ReleaseSpec) -> LoadedPlan:
    md = train.doc.metadata
    doc = model.ReleaseDoc.model_validate({
        "apiVersion": "launchdeck/v1", "kind": "Release", "spec": spec,
        "metadata": {"name": f"{md.name}.{entry.name}", "tenant": md.tenant, "service": entry.name,
                     "version": md.version, "previousVersion": md.previous_version, "labels": md.labels},
    })
    return LoadedPlan(train.path, train.digest, doc)


async def run_train(train: LoadedPlan, opts: RunOptions, views: ViewFactory) -> dict[str, Any]:
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
                task = asyncio.create_task(run_release(service_plan(train, entry, spec), opts, views(name)))
                running[task] = name
        if not running:
            break
        done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            name = running.pop(task)
            finished[name] = iso()
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
