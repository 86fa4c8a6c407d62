"""The tick loop: observe, decide (pure core), act, record — until the release reaches its outcome.

Each tick the engine's new state, its decisions and the messages they call for are committed in one
transaction; side effects that must not be repeated (rollback steps) are recorded as they finish, so
a run killed at any point and started again with the same command resumes where it was.
"""

from __future__ import annotations

import asyncio
import time
from contextlib import AsyncExitStack
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from launchdeck.adapters.routers import Router, Split
from launchdeck.controller import evidence as bundles
from launchdeck.controller import driver, failpoints, lifecycle, preflight
from launchdeck.controller.clock import PlanClock
from launchdeck.controller.messages import Dispatcher, iso
from launchdeck.controller.people import gather, load_approvals_file, stored_rules
from launchdeck.controller.session import (Run, RunOptions, View, commit, deliver, snapshot, status_line,
                                           write_evidence)
from launchdeck.controller.target import open_target, thin_windows
from launchdeck.controller.wrapup import report_finished, wrap_up, write_missing_stage_bundles
from launchdeck.core import engine
from launchdeck.core.engine import Decision, Observations, SetWeight, StartRollback, WriteEvidence
from launchdeck.core.state import ReleaseState
from launchdeck.errors import LaunchdeckError, UsageError, WeightNotApplied
from launchdeck.plan import LoadedPlan, baseline, model, to_policy
from launchdeck.plan.noise import noisy_gates
from launchdeck.store.repo import NewDecision, Store, StoredRelease

__all__ = ["RunOptions", "View", "new_run", "prepare_release", "roll_back", "run_release", "wrap_up"]

VERIFY_ATTEMPTS = 5


async def run_release(plan: LoadedPlan, opts: RunOptions, view: View) -> dict[str, Any]:
    """Run (or resume) the plan's release to its outcome and return the summary object."""
    assert isinstance(plan.doc, model.ReleaseDoc), "trains run through controller.train"
    with Store(opts.db_url) as store:
        return await _run(plan, opts, view, store)


async def _run(plan: LoadedPlan, opts: RunOptions, view: View, store: Store) -> dict[str, Any]:
    assert isinstance(plan.doc, model.ReleaseDoc)
    spec = plan.doc.spec
    preflight.require_writable(spec, workdir=opts.workdir)  # before anything is recorded, let alone moved
    release, state, meta = _open_release(store, plan, opts, view)
    run = new_run(plan, opts, view, store, release, state, meta)
    if state.phase == "done" and state.outcome != "held":
        return await report_finished(run)
    run.meta["driver"] = driver.me()
    if state.phase == "done":  # it ended held: held again, live, for a person to decide
        step = engine.reopen_held(state, release.plan_clock)
        commit(run, step.state, list(step.decisions), release.plan_clock)
        state = run.state
    if state.phase == "starting" and "checks" not in meta:
        refusal = _preflight(run)
        if refusal:
            return await _refuse(run, refusal, "preflight.failed")
    async with AsyncExitStack() as stack:
        if state.phase != "done":
            for warning in thin_windows(spec, opts.time_scale) + noisy_gates(spec, opts.time_scale) + baseline.notes(spec):
                view.note(f"warning: {warning}")
            run.target = await open_target(spec, plan.doc.metadata, stack=stack, time_scale=opts.time_scale,
                                           plan_offset=release.plan_clock, seed=opts.seed, workdir=opts.workdir)
            if state.phase != "starting":
                await _set_weight(run, 0.0 if state.phase == "rolling_back" else state.weight)
            run.clock = PlanClock(opts.time_scale, release.plan_clock)  # plan time starts with the target up
            write_missing_stage_bundles(run)
            await _announce_start(run)
            if spec.soak and state.phase == "starting" and not meta.get("soak", {}).get("passed"):
                failure = await lifecycle.soak(run, stack, _planned_start(run))
                if failure:
                    return await _refuse(run, f"refused: {failure}", None)
                run.meta["soak"]["passed"] = True
            await _loop(run)
            if opts.follow and run.state.outcome == "promoted" and spec.post_launch:
                run.meta.setdefault("promotedAt", run.clock.now())
                await lifecycle.follow(run, run.meta["promotedAt"])
    return await wrap_up(run)


def new_run(plan: LoadedPlan, opts: RunOptions, view: View, store: Store, release: StoredRelease,
            state: ReleaseState, meta: dict[str, Any]) -> Run:
    """A session on a release: its policy, clock, signing key and channels (no target yet)."""
    assert isinstance(plan.doc, model.ReleaseDoc)
    spec = plan.doc.spec
    run = Run(plan, spec, to_policy(spec), opts, store, release, state, meta,
              PlanClock(opts.time_scale, release.plan_clock), view)
    run.key, note = bundles.ensure_key(opts.workdir / spec.evidence.key)
    if note:
        view.note(note)
    run.dispatcher = Dispatcher(spec, workdir=opts.workdir, release=release.name)
    return run


async def _refuse(run: Run, reason: str, event: str | None) -> dict[str, Any]:
    now = run.clock.now() if run.target else 0.0
    run.state = replace(run.state, phase="done", outcome="refused", reason=reason)
    first = [Decision(now, event, reason, event)] if event else []
    commit(run, run.state, first + [Decision(now, "release.refused", reason, "release.completed")], now)
    return await wrap_up(run)


def _preflight(run: Run) -> str | None:
    """Freeze windows, then checks; every result is kept for the evidence. Returns why it refused."""
    why = preflight.frozen(run.spec.preflight, datetime.now(UTC))
    results = preflight.run_checks(run.spec.preflight, run.opts.workdir) if why is None else []
    run.meta["checks"] = [r.to_json() for r in results]
    for r in results:
        run.view.note(f"preflight check {r.name}: {'passed' if r.passed else 'FAILED'} — {r.detail}")
    failed = [r for r in results if not r.passed]
    if why is None and failed:
        why = "preflight check failed: " + "; ".join(f"{r.name}: {r.detail}" for r in failed)
    if why is None:
        why = preflight.unsigned_checklists(run.spec, run.store, run.release.id, planned_start=_planned_start(run))
    if why is None:
        why = preflight.no_go(run.store, run.release.id)
    return f"refused: {why}" if why else None


def _planned_start(run: Run) -> datetime:
    return datetime.fromisoformat(run.meta.get("plannedStart") or run.meta["startedAt"])


def _open_release(store: Store, plan: LoadedPlan, opts: RunOptions,
                  view: View) -> tuple[StoredRelease, ReleaseState, dict[str, Any]]:
    meta = plan.doc.metadata
    found = store.find(name=meta.name, tenant=meta.tenant)
    if found and opts.fresh:
        store.archive(release_id=found.id)
        view.note(f"an earlier run of {meta.name} ({found.outcome or 'unfinished'}) is kept as {meta.name}#{found.id}")
        previous, found = f"{meta.name}#{found.id}", None
    else:
        previous = None
    if found and found.plan_digest != plan.digest:
        raise UsageError(f"release {meta.name} was started from a different version of the plan",
                         hint="run the plan it was started with to resume it or see its outcome, or add --fresh "
                              "to start a new run")
    if found and found.outcome and found.outcome != "held":
        return found, ReleaseState.from_json(found.state["engine"]), dict(found.state)
    if found:
        if found.outcome == "held":
            view.note(f"{meta.name} ended held at {found.state['engine']['weight']:g}%; it is held again, live, "
                      "for a person to decide: `launchdeck resume` / `approve --decision continue|rollback`")
        else:
            view.note(f"resuming {meta.name} at plan time {found.plan_clock:.0f}s "
                      f"({found.state['engine']['phase']}, stage {found.state['engine']['stage'] + 1})")
        resumed = dict(found.state)
        resumed.pop("wrapup", None)  # a held release's wrap-up is done again when it ends again
        # This process's recorder starts from zero: carry the canary totals counted before the restart.
        resumed["carried"] = list(resumed.get("totals", [0, 0]))
        return found, ReleaseState.from_json(found.state["engine"]), resumed
    # Every entry is checked (like `approve`) before the release is recorded: a refused file leaves nothing.
    approved = load_approvals_file(opts.approvals, plan.doc.spec, meta.service) if opts.approvals else []
    release = _create(store, plan, opts, previous=previous)
    for a in approved:
        store.add_signoff(release_id=release.id, source="approvals-file", **a)
    return release, ReleaseState(), dict(release.state)


def _create(store: Store, plan: LoadedPlan, opts: RunOptions, previous: str | None = None) -> StoredRelease:
    spec = plan.doc.spec
    assert isinstance(spec, model.ReleaseSpec)
    info = {"engine": ReleaseState().to_json(), "workdir": str(opts.workdir.resolve()), **stored_rules(spec),
            "rollback": {"steps": []}, "totals": [0, 0], "timeScale": opts.time_scale, "startedAt": iso(),
            "plannedStart": (opts.start_at or datetime.now(UTC)).isoformat(timespec="seconds"),
            **({"previousRun": previous} if previous else {})}
    md = plan.doc.metadata
    return store.create(tenant=md.tenant, name=md.name, plan_path=str(plan.path.resolve()), plan_digest=plan.digest,
                        state=info)


def prepare_release(plan: LoadedPlan, opts: RunOptions) -> StoredRelease:
    """Register a release ahead of its run (for checklists and go/no-go); `run` then picks it up."""
    if plan.is_train:
        raise UsageError("prepare takes a release plan; a train prepares each service when it runs")
    with Store(opts.db_url) as store:
        found = store.find(name=plan.name, tenant=plan.doc.metadata.tenant)
        if found and not found.outcome:
            raise UsageError(f"release {plan.name} is already prepared or running",
                             hint=f"see `launchdeck checklist {plan.name}` or `launchdeck status {plan.name}`")
        if found:
            store.archive(release_id=found.id)
        return _create(store, plan, opts)


async def _loop(run: Run) -> None:
    tick = max(0.02, min(0.25, run.policy.analysis.interval / run.opts.time_scale / 4))
    run.last_eval_wall = time.time()
    smoke_failure: str | None = None
    while run.state.phase != "done":
        if run.state.phase == "rolling_back":
            await roll_back(run)
            continue
        now = run.clock.now()
        observations = None
        if engine.evaluation_due(run.policy, run.state, now):
            await _check_weight(run, now)
            observations = await _observe(run)
        people = gather(run.store, run.release.id, run.policy, run.state)
        run.signoffs = people.signoffs
        step = engine.decide(run.policy, run.state, now, engine.Inputs(
            observations=observations, signoffs=people.signoffs, decision=people.decision, kill=people.kill,
            smoke_failure=smoke_failure, pause=people.pause, resume=people.resume))
        smoke_failure = None
        decisions = list(step.decisions)
        decisions += run.warroom.after(decisions, step.state, now, status_line(run, step.state, now))
        for action in step.actions:
            if isinstance(action, SetWeight):
                await _set_weight(run, action.weight)
                if run.spec.smoke and action.weight > 0:
                    smoke_failure = await _smoke(run, action.weight)
        refused = [NewDecision(now, "signoff.refused", r, None, {}) for r in people.refusals]
        commit(run, step.state, decisions, now, extra=refused)
        for used in people.consumed:
            run.store.consume(signoff_id=used)
        for action in step.actions:
            if isinstance(action, WriteEvidence):
                write_evidence(run, action.label)
            if isinstance(action, StartRollback):
                run.meta["rollback"] = {"steps": [], "decidedAt": now, "decidedWall": time.perf_counter()}
        await deliver(run)
        run.view.tick(snapshot(run, now))
        for d in decisions:
            failpoints.reached(f"decision.{d.kind}")
        if run.state.phase not in ("done", "rolling_back"):
            await asyncio.sleep(tick)


async def _announce_start(run: Run) -> None:
    if run.state.phase == "starting" and not run.meta.get("announced"):
        run.meta["announced"] = True
        commit(run, run.state, [Decision(0.0, "release.started",
                                          f"release {run.release.name} started: {run.plan.doc.metadata.version} "
                                          f"replaces {run.plan.doc.metadata.previous_version or 'the stable version'}",
                                          "release.started")], 0.0)
        failpoints.reached("decision.release.started")
        await deliver(run)


async def _smoke(run: Run, weight: float) -> str | None:
    """Run the plan's smoke test after a weight change; the failure, if any, acts as an immediate gate."""
    assert run.spec.smoke is not None
    command, timeout = run.spec.smoke.run, run.clock.wall(run.spec.smoke.timeout)
    proc = await asyncio.create_subprocess_shell(command, cwd=run.opts.workdir, stdout=asyncio.subprocess.PIPE,
                                                 stderr=asyncio.subprocess.STDOUT)
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout=max(timeout, 1.0))
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return f"`{command}` ran over {run.spec.smoke.timeout:g}s of plan time at {weight:g}%"
    if proc.returncode != 0:
        tail = out.decode(errors="replace").strip().splitlines()[-1:] or [""]
        return f"`{command}` exited {proc.returncode} at {weight:g}%" + (f": {tail[0]}" if tail[0] else "")
    run.view.note(f"smoke test passed at {weight:g}%: {command}")
    return None


async def _observe(run: Run) -> Observations:
    assert run.target is not None
    end = time.time()
    window = run.clock.wall(run.policy.analysis.window)
    metrics = run.target.metrics
    same_age = run.policy.analysis.baseline == "same-age"
    obs = Observations(
        canary=await metrics.observe("canary", end - window, end),
        stable=await metrics.observe("stable", end - window, end),
        canary_slice=await metrics.observe("canary", run.last_eval_wall, end),
        stable_slice=await metrics.observe("stable", run.last_eval_wall, end),
        baseline=await metrics.observe("baseline", end - window, end) if same_age else None,
        baseline_slice=await metrics.observe("baseline", run.last_eval_wall, end) if same_age else None,
    )
    run.last_eval_wall = end
    windows = {"canary": obs.canary, "stable": obs.stable, "baseline": obs.baseline}
    for version, stats in windows.items():
        if stats is None:
            continue
        run.numbers[version] = {"error_rate": stats.metric("error_rate"), "p95_ms": stats.metric("latency_p95_ms"),
                                "requests": stats.requests}
    for piece in (obs.canary_slice, obs.stable_slice, obs.baseline_slice):
        if piece is not None:
            run.target.count(piece)
    return obs


async def _check_weight(run: Run, now: float) -> None:
    """Before judging, make sure the router still serves the weight the release is at.

    A router restarted mid-release (HAProxy keeps runtime weights in memory only) comes back with
    its configured weights: detected here, recorded, and the release's weight applied again.
    """
    assert run.target is not None
    if run.state.phase not in ("stage", "deciding", "held"):
        return
    want = _split(run, run.state.weight)
    try:
        seen = await run.target.router.current_split()
    except LaunchdeckError as e:
        run.view.note(f"cannot read the router's weight: {e.message}; judging continues, will retry")
        return
    if seen.matches(want):
        return
    await _set_weight(run, run.state.weight)
    commit(run, run.state, [Decision(now, "weight.reapplied", f"router {run.target.router.type} served {seen} "
                                     f"instead of {want} (restarted or changed by hand); "
                                     f"{run.state.weight:g}% applied again and verified", None, None,
                                     {"seen": seen.canary, "wanted": run.state.weight,
                                      **({"seenBaseline": seen.baseline, "wantedBaseline": want.baseline}
                                         if want.baseline or seen.baseline else {})})], now)


def _split(run: Run, weight: float) -> Split:
    """The shares the router serves at the canary's ``weight``: a same-age baseline's comes from stable's."""
    return Split(weight, run.policy.baseline_weight(weight))


async def _set_weight(run: Run, weight: float) -> float:
    """Set the canary's weight (and the same-age baseline's) and read them back; a weight that did not take
    is never reported done."""
    assert run.target is not None
    router: Router = run.target.router
    want = _split(run, weight)
    for _ in range(VERIFY_ATTEMPTS):
        await router.set_weight(want.canary, want.baseline)
        seen = await router.current_split()
        if seen.matches(want):
            return seen.canary
    raise WeightNotApplied(f"router {router.type} reports {seen} after setting {want}",
                           hint="check the router; the release state still holds the weight it wanted")


async def roll_back(run: Run) -> None:
    assert run.target is not None
    router = run.target.router
    info = run.meta.setdefault("rollback", {"steps": []})
    started = info.get("decidedWall") or time.perf_counter()
    actions = {"kill-switch": router.kill, "drain-canary": router.drain}
    for step in run.spec.rollback.steps:
        if step in info["steps"]:
            continue
        if step in actions:
            await actions[step]()
            what = {"kill-switch": "kill switch on: every request goes to stable",
                    "drain-canary": "canary drained"}[step]
        elif step in ("traffic-to-stable", "verify"):
            seen = await _set_weight(run, 0.0)
            what = f"router {router.type} reports canary weight {seen:g}%"
        else:
            what = "rollback announced"
        info["steps"].append(step)
        commit(run, run.state, [Decision(run.clock.now(), "rollback.step", f"{step}: {what}", None,
                                          run.state.fired_gate, {"step": step})], run.clock.now())
        failpoints.reached("rollback.step")
    seen = await _set_weight(run, 0.0)  # the contract: a rollback always ends on a verified 0
    if "seconds" not in info:
        info["seconds"] = round(time.perf_counter() - started, 4) if info.get("decidedWall") else None
    now = run.clock.now()
    step = engine.rollback_completed(run.state, now, f"rollback complete: {run.state.reason}; "
                                     f"router {router.type} reports canary weight {seen:g}%")
    decisions = list(step.decisions)
    decisions += run.warroom.after(decisions, step.state, now, status_line(run, step.state, now))
    commit(run, step.state, decisions, now)
    run.view.tick(snapshot(run, now))








