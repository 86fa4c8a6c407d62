"""Moving the canary's weight (read back, never reported done when it did not take) and the rollback: the
plan's steps in order, each recorded when it is finished, so a run killed between steps and started
again carries on from the first step not done, never repeating one.

A ``run`` step is a command (a database point-in-time restore, a cache flush): run with its timeout,
retried up to ``retries`` times, and checked by its ``verify`` command; its output (secrets redacted)
goes into the decision log and the evidence. It is marked *started* (committed) before it runs, so a
run killed while it ran knows on restart that it may have taken effect: it asks ``verify`` first, and
runs the step again only when verify says it is not done. A step that still fails is recorded and the
rollback goes on (traffic must still reach stable); the rollback's completion says which step failed.
Every command, like every router write, is fenced first: a driver that lost its lease sends nothing.
"""

from __future__ import annotations

import time
from functools import partial
from typing import Any

from launchdeck import telemetry
from launchdeck.adapters import process
from launchdeck.adapters.routers import Router, Split
from launchdeck.controller import failpoints
from launchdeck.controller.session import (
    Run,
    commit,
    fence,
    fence_aside,
    snapshot,
    status_line,
)
from launchdeck.core import engine
from launchdeck.core.engine import Decision
from launchdeck.errors import TargetError, WeightNotApplied
from launchdeck.plan.hooks_model import RunStepSpec

VERIFY_ATTEMPTS = 5


def split_for(run: Run, weight: float) -> Split:
    """The shares the router serves at the canary's ``weight``: a same-age baseline's comes from stable's."""
    return Split(weight, run.policy.baseline_weight(weight))


async def set_weight(run: Run, weight: float) -> float:
    """Set the canary's weight (and the same-age baseline's) and read them back; a weight that did not take
    is never reported done."""
    assert run.target is not None
    router: Router = run.target.router
    want = split_for(run, weight)
    try:
        for _ in range(VERIFY_ATTEMPTS):
            await fence_aside(run, f"set-weight:{weight:g}")
            await router.set_weight(want.canary, want.baseline)
            seen = await router.current_split()
            if seen.matches(want):
                return seen.canary
    except TargetError:
        telemetry.ROUTER_ERRORS.labels(router.type).inc()
        raise
    telemetry.ROUTER_ERRORS.labels(router.type).inc()
    told = f"canary weight {seen.canary:g}% after setting {weight:g}%" if not (want.baseline or seen.baseline) \
        else f"{seen} after setting {want}"
    raise WeightNotApplied(f"router {router.type} reports {told}",
                           hint="check the router; the release state still holds the weight it wanted")


async def roll_back(run: Run) -> None:
    assert run.target is not None
    router = run.target.router
    info = run.meta.setdefault("rollback", {"steps": []})
    started = info.get("decidedWall") or time.perf_counter()
    actions = {"kill-switch": router.kill, "drain-canary": router.drain}
    for step in run.spec.rollback.steps:
        name = step if isinstance(step, str) else step.name
        if name in info["steps"]:
            continue
        inputs: dict[str, Any] = {"step": name}
        if isinstance(step, RunStepSpec):
            what, inputs = await _run_step(run, step, info)
        elif step in actions:
            fence(run, f"rollback:{step}")
            await actions[step]()
            what = {"kill-switch": "kill switch on: every request goes to stable",
                    "drain-canary": "canary drained"}[step]
        elif step in ("traffic-to-stable", "verify"):
            seen = await set_weight(run, 0.0)
            what = f"router {router.type} reports canary weight {seen:g}%"
        else:
            what = "rollback announced"
        info["steps"].append(name)
        kind = "rollback.step_failed" if name in info.get("failed", []) else "rollback.step"
        commit(run, run.state, [Decision(run.clock.now(), kind, f"{name}: {what}", None, run.state.fired_gate,
                                         inputs)], run.clock.now())
        failpoints.reached("rollback.step")
    seen = await set_weight(run, 0.0)  # the contract: a rollback always ends on a verified 0
    if "seconds" not in info:
        info["seconds"] = round(time.perf_counter() - started, 4) if info.get("decidedWall") else None
    now = run.clock.now()
    failed = info.get("failed", [])
    unfinished = f"; step(s) {', '.join(failed)} FAILED, see the decision log" if failed else ""
    step = engine.rollback_completed(run.state, now, f"rollback complete: {run.state.reason}; "
                                     f"router {router.type} reports canary weight {seen:g}%{unfinished}")
    decisions = list(step.decisions)
    decisions += run.warroom.after(decisions, step.state, now, partial(status_line, run, step.state, now))
    commit(run, step.state, decisions, now)
    run.view.tick(snapshot(run, now))


async def _run_step(run: Run, step: RunStepSpec, info: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Run a command step to success (verified, when it has a verify command) or to its last retry."""
    md = run.plan.doc.metadata
    values = {"version": md.version, "previousVersion": md.previous_version or "", "release": run.release.name}
    secrets = (run.dispatcher.secrets if run.dispatcher else []) + process.secret_values(step.secret_env)

    async def command(text: str, label: str) -> process.Ran:
        fence(run, f"rollback:{step.name}:{label}")
        ran = await process.run(text, values=values, cwd=run.opts.workdir, timeout=step.timeout, shell=step.shell,
                                secrets=secrets)
        run.view.note(f"rollback step {step.name}: {ran.describe() if not ran.ok else f'`{ran.command}` exited 0'}")
        return ran

    inputs: dict[str, Any] = {"step": step.name, "run": step.run, "attempts": []}
    started = info.setdefault("started", [])
    if step.name in started and step.verify:
        # Killed while the step ran: it may have taken effect; doing a restore twice is worse than asking.
        check = await command(step.verify, "verify-after-restart")
        inputs["verify"] = check.to_json()
        if check.ok:
            return (f"already done before the restart (verified by `{step.verify}`); not run again",
                    {**inputs, "resumed": True})
    if step.name not in started:
        started.append(step.name)
        commit(run, run.state, [], run.clock.now())  # recorded before anything runs: a restart knows it began
    failure = ""
    for attempt in range(1, step.retries + 2):
        ran = await command(step.run, f"run-{attempt}")
        failpoints.reached("rollback.run_step")  # the command took effect; nothing records it yet
        inputs["attempts"].append(ran.to_json())
        if not ran.ok:
            failure = ran.describe()
            continue
        if step.verify is None:
            return f"`{step.run}` exited 0 (attempt {attempt})", inputs
        check = await command(step.verify, f"verify-{attempt}")
        inputs["verify"] = check.to_json()
        if check.ok:
            return f"`{step.run}` exited 0 and `{step.verify}` verified it (attempt {attempt})", inputs
        failure = f"the step ran, but verify {check.describe()}"
    info.setdefault("failed", []).append(step.name)
    return f"FAILED after {step.retries + 1} attempt(s): {failure}", inputs
