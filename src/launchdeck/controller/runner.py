"""The tick loop: observe, decide (pure core), act, record — until the release reaches its outcome.

Each tick the engine's new state, its decisions and the messages they call for are committed in one
transaction; side effects that must not be repeated (rollback steps) are recorded as they finish, so
a run killed at any point and started again with the same command resumes where it was.
"""

from __future__ import annotations

import asyncio
import time
from contextlib import AsyncExitStack, suppress
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial
from typing import Any

from launchdeck import telemetry
from launchdeck.controller import (
    doorbell,
    driver,
    failpoints,
    guardwatch,
    lifecycle,
    loadtests,
    preflight,
    submit,
)
from launchdeck.controller import evidence as bundles
from launchdeck.controller.clock import PlanClock
from launchdeck.controller.messages import Dispatcher
from launchdeck.controller.people import read_aside
from launchdeck.controller.rollback import roll_back, set_weight, split_for
from launchdeck.controller.session import (
    Run,
    RunOptions,
    Stopped,
    View,
    beat,
    beat_every,
    commit,
    commit_aside,
    deliver,
    snapshot,
    status_line,
    write_evidence,
)
from launchdeck.controller.shift import Shift, kept
from launchdeck.controller.target import TargetOpener, open_target, thin_windows
from launchdeck.controller.wrapup import (
    report_finished,
    wrap_up,
    write_missing_stage_bundles,
)
from launchdeck.core import deadlines, engine
from launchdeck.core.engine import (
    Decision,
    Observations,
    SetWeight,
    StartRollback,
    WriteEvidence,
)
from launchdeck.core.state import ReleaseState
from launchdeck.errors import LaunchdeckError, LeaseHeld
from launchdeck.plan import LoadedPlan, advice, model, to_policy
from launchdeck.services import autonomy, guardrails
from launchdeck.store import leases
from launchdeck.store.leases import Lease
from launchdeck.store.repo import NewDecision, Store, StoredRelease

__all__ = ["RunOptions", "View", "drive", "new_run", "roll_back", "run_release", "wrap_up"]


async def run_release(plan: LoadedPlan, opts: RunOptions, view: View, *, wait: bool = False,
                      stop: asyncio.Event | None = None) -> dict[str, Any]:
    """Submit the plan's release and drive it here to its outcome (`launchdeck run`); return the summary.

    Raises ``LeaseHeld`` (exit 4) when another live process drives it, unless ``wait``: then it waits
    for that process to finish or stop, and reports or goes on. ``stop`` as for ``drive`` (a worker
    driving a train's services).
    """
    assert isinstance(plan.doc, model.ReleaseDoc), "trains run through controller.train"
    preflight.require_writable(plan.doc.spec, workdir=opts.workdir)  # before anything is recorded, let alone moved
    with Store(opts.db_url) as store:
        release = submit.submit(store, plan, opts, view)
        lease = await _hold(store, release, view, wait=wait)
        if release.drive_failures or release.gave_up_at:  # a person drives it now: the workers' failures are past
            view.note(f"workers failed to drive {release.name} {release.drive_failures} time(s) "
                      f"(the last: {release.drive_error}); driving it here")
            store.drive_again(release_id=release.id)
        try:
            return await drive(plan, opts, view, store, lease, stop=stop)
        finally:
            with suppress(LaunchdeckError):
                leases.let_go(store, lease)


async def _hold(store: Store, release: StoredRelease, view: View, *, wait: bool) -> Lease:
    said = False
    while True:
        lease = leases.claim(store, release.id, driver.holder_id(), driver.LEASE_SECONDS, dead=driver.dead)
        if lease is not None:
            return lease
        current = store.find(name=release.name, tenant=release.tenant) or release
        who = driver.describe(current)
        if not wait:
            raise LeaseHeld(f"release {release.name} is being driven by {who} (its lease is live); a second driver "
                            "would pass every stage twice",
                            hint=f"follow it with `launchdeck status {release.name} --watch`, or add --wait to wait "
                                 "for it to finish or stop")
        if not said:
            view.note(f"release {release.name} is being driven by {who}; waiting for it to finish or stop")
            said = True
        await asyncio.sleep(1.0)


async def drive(plan: LoadedPlan, opts: RunOptions, view: View, store: Store, lease: Lease,
                stop: asyncio.Event | None = None, opener: TargetOpener | None = None,
                shift: Shift | None = None, found: StoredRelease | None = None) -> dict[str, Any]:
    """Drive a submitted release while holding ``lease``: the one tick code path, for `run` and workers.

    ``stop`` set: the current tick finishes and ``Stopped`` is raised (the caller gives the lease up).
    ``opener`` opens the target instead of the plan's own (the scale benchmark's in-process target).
    ``shift`` (a worker's) keeps the lease and says when the sign-offs changed, for all the worker's releases
    at once; without it the lease is renewed here and the sign-offs are read every tick.
    A lost lease raises ``LeaseLost`` from the first commit or fence after it: nothing more is written
    or sent. ``found``: the release as the caller read it after taking the lease (read here when None).
    """
    if lease.taken_from is not None:
        telemetry.LEASE_TAKEOVERS.inc()
    def start() -> Run:  # on a thread: the store, the plan's key file (a worker drives its other releases meanwhile)
        release, state, meta = _session(found or store.find_id(lease.release_id), view)
        run = new_run(plan, opts, view, store, release, state, meta)
        if not lease.fresh:  # effects already sent under this very lease are counted on, not repeated
            run.effects = len([e for e in leases.effects(store, release.id) if e.epoch == lease.epoch])
        return run

    run = await asyncio.to_thread(start)
    run.lease, run.stop = lease, stop
    run.opener = opener or open_target
    run.shift = shift
    with kept(run, shift):
        return await _drive(run)


async def _drive(run: Run) -> dict[str, Any]:
    plan, opts, view, spec = run.plan, run.opts, run.view, run.spec
    release, state, meta = run.release, run.state, run.meta
    if state.phase == "done" and state.outcome != "held":
        return await report_finished(run)
    run.meta["driver"] = driver.me()
    if state.phase == "done":  # it ended held: held again, live, for a person to decide
        step = engine.reopen_held(state, release.plan_clock)
        commit(run, step.state, list(step.decisions), release.plan_clock)
        state = run.state
    if state.phase == "starting" and "checks" not in meta:
        refusal = await asyncio.to_thread(_preflight, run)  # checks, and the store's sign-offs: off the loop
        if refusal:
            return await _refuse(run, refusal, "preflight.failed")
    async with AsyncExitStack() as stack:
        if state.phase != "done":
            for warning in thin_windows(spec, opts.time_scale) + advice.warnings(spec, opts.time_scale):
                view.note(f"warning: {warning}")
            run.target = await run.opener(spec, plan.doc.metadata, stack=stack, time_scale=opts.time_scale,
                                           plan_offset=release.plan_clock, seed=opts.seed, workdir=opts.workdir)
            if state.phase != "starting":
                await set_weight(run, 0.0 if state.phase == "rolling_back" else state.weight)
            stack.push_async_callback(loadtests.stop, run)
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
    # Every release of the tenant carries its locked SLOs, whether or not the plan names them.
    spec = guardrails.with_locked(plan.doc.spec, guardrails.rails_of(store, release.tenant))
    run = Run(plan, spec, to_policy(spec), opts, store, release, state, meta,
              PlanClock(opts.time_scale, release.plan_clock), view)
    run.key, note = bundles.ensure_key(opts.workdir / spec.evidence.key)
    if note:
        view.note(note)
    from launchdeck.store.chat import StoredThreads

    run.dispatcher = Dispatcher(spec, workdir=opts.workdir, release=release.name,
                                threads=StoredThreads(store, release.id))
    return run


async def _refuse(run: Run, reason: str, event: str | None) -> dict[str, Any]:
    now = run.clock.now() if run.target else 0.0
    run.state = replace(run.state, phase="done", outcome="refused", reason=reason)
    first = [Decision(now, event, reason, event)] if event else []
    commit(run, run.state, first + [Decision(now, "release.refused", reason, "release.completed")], now)
    return await wrap_up(run)


def _preflight(run: Run) -> str | None:
    """Freeze windows, then checks and the supply chain; every result is kept for the evidence. Returns why
    it refused."""
    why = preflight.frozen(run.spec.preflight, datetime.now(UTC))
    results = [] if why is not None else (preflight.run_checks(run.spec.preflight, run.opts.workdir)
                                           + preflight.supply_chain(run.spec.preflight, run.opts.workdir))
    run.meta["checks"] = [r.to_json() for r in results]
    for r in results:
        run.view.note(f"preflight check {r.name}: {'passed' if r.passed else 'FAILED'} — {r.detail}")
    failed = [r for r in results if not r.passed]
    if why is None and failed:
        why = "preflight check failed: " + "; ".join(r.refusal() for r in failed)
    if why is None:
        signoffs = run.store.signoffs(release_id=run.release.id)
        why = (preflight.unsigned_checklists(run.spec, signoffs, planned_start=_planned_start(run))
               or preflight.no_go(signoffs))
    return f"refused: {why}" if why else None


def _planned_start(run: Run) -> datetime:
    return datetime.fromisoformat(run.meta.get("plannedStart") or run.meta["startedAt"])


def _session(found: StoredRelease, view: View) -> tuple[StoredRelease, ReleaseState, dict[str, Any]]:
    """The release as a driving session starts from: a new one as recorded, a finished one as it ended,
    an unfinished one resumed where it was (with the totals counted before the restart)."""
    state = ReleaseState.from_json(found.state["engine"])
    if found.outcome and found.outcome != "held":
        return found, state, dict(found.state)
    if found.outcome == "held":
        view.note(f"{found.name} ended held at {state.weight:g}%; it is held again, live, for a person to decide: "
                  "`launchdeck resume` / `approve --decision continue|rollback`")
    elif state.phase != "starting" or found.plan_clock > 0:
        view.note(f"resuming {found.name} at plan time {found.plan_clock:.0f}s ({state.phase}, stage {state.stage + 1})")
    resumed = dict(found.state)
    resumed.pop("wrapup", None)  # a held release's wrap-up is done again when it ends again
    # This process's recorder starts from zero: carry the canary totals counted before the restart.
    resumed["carried"] = list(resumed.get("totals", [0, 0]))
    return found, state, resumed


#: The longest a release waits between ticks in `launchdeck run`: its live view counts down the stage.
TICK_S = 0.25
#: In a worker (which drives thousands, and shows nothing) a release sleeps until the clock can change it
#: or it is rung (``_pause``), at most this long.
WORKER_IDLE_S = 30.0
#: At most this long while something outside the engine needs a look: messages waiting for their channel,
#: a load test running, the guard rails holding the release (an override ends by the clock).
BUSY_TICK_S = 1.0


async def _loop(run: Run) -> None:
    longest = WORKER_IDLE_S if run.shift is not None else max(
        0.02, min(TICK_S, run.policy.analysis.interval / run.opts.time_scale / 4))
    heartbeat = beat_every(run)
    run.last_eval_wall = time.time()
    run.looping = True
    try:
        with doorbell.hung(run.bell):
            await _ticks(run, min(longest, heartbeat or longest), heartbeat)
    finally:
        run.looping = False


async def _ticks(run: Run, longest: float, heartbeat: float | None) -> None:
    smoke_failure: str | None = None
    first = True  # a session's first tick commits: the store names its new driver at once
    while run.state.phase != "done":
        if run.state.phase == "rolling_back":
            await loadtests.stop(run)  # no more load on a canary being rolled back
            await roll_back(run)
            continue
        now = run.clock.now()
        telemetry.TICKS.inc()
        if run.state.phase == "stage":
            loadtests.start(run, run.state.stage)
        loadtests.collect(run, now)
        observations = None
        if engine.evaluation_due(run.policy, run.state, now):
            due = run.state.last_eval_at if run.state.last_eval_at is not None else run.state.stage_started_at
            telemetry.TICK_LAG.observe(max(0.0, now - due - run.policy.analysis.interval) / run.opts.time_scale)
            await _check_weight(run, now)
            observations = await _observe(run)
        # The tenant's guard rails: its autonomy tier, an override, an enforced pause or shrink.
        guard = await autonomy.runtime_aside(run.store, run.release.tenant)
        policy = guard.policy(run.policy) if guard is not None else run.policy
        people, run.people_mark = await read_aside(run.store, run.release.id, policy, run.state, run.signoffs,
                                                   run.shift.watch if run.shift else None, run.people_mark)
        signed_before, run.signoffs = run.signoffs, people.signoffs
        room_before = run.warroom.kept()
        step = engine.decide(policy, run.state, now, engine.Inputs(
            observations=observations, signoffs=people.signoffs, decision=people.decision, kill=people.kill,
            smoke_failure=smoke_failure, pause=people.pause, resume=people.resume,
            guard_hold=guard.hold if guard is not None else None, guard_shrink=guard is not None and guard.shrink))
        smoke_failure = None
        decisions = list(step.decisions)
        decisions += run.warroom.after(decisions, step.state, now, partial(status_line, run, step.state, now))
        for action in step.actions:
            if isinstance(action, SetWeight):
                await set_weight(run, action.weight)
                if run.spec.smoke and action.weight > 0:
                    smoke_failure = await lifecycle.smoke(run, action.weight)
        refused = [NewDecision(now, "signoff.refused", r, None, {}) for r in people.refusals]
        stopping = run.stop is not None and run.stop.is_set()  # hand the release over exactly where it is
        if (decisions or refused or people.consumed or step.state != run.state or people.signoffs != signed_before
                or run.warroom.kept() != room_before or stopping or first):
            await commit_aside(run, step.state, decisions, now, extra=refused)
            first = False
        elif heartbeat is not None and time.monotonic() - run.saved_at >= heartbeat:
            beat(run, now)
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
        if run.stop is not None and run.stop.is_set() and run.state.phase != "done":
            raise Stopped(run.release.name)
        if run.state.phase not in ("done", "rolling_back"):
            # A failed smoke test is decided on at once; people's input and the guard rails ring the bell.
            await run.bell.nap(0.0 if smoke_failure else _pause(run, min(longest, BUSY_TICK_S)
                                                                    if _busy(run, guard) else longest))


def _busy(run: Run, guard: autonomy.Runtime | None) -> bool:
    """Something outside the engine needs a look soon: messages waiting for their channels (a failing one
    is retried after its backoff), a load test running, the guard rails holding the release."""
    return (run.outbox_clean != run.outbox_gen or any(not test.done() for test in run.loadtests.values())
            or (guard is not None and guard.hold is not None))


def _pause(run: Run, longest: float) -> float:
    """Wall seconds until the next tick: until the next moment the clock alone can change the release (an
    evaluation, the end of a hold, a deadline: ``core.deadlines``; the war room's next message), at most
    ``longest``. Anything else that can change it rings its bell."""
    now = run.clock.now()
    due = [deadlines.next_change_at(run.policy, run.state, now), run.warroom.next_at(run.state, now)]
    soonest = min((t for t in due if t is not None), default=None)
    if soonest is None:
        return longest
    return max(0.0, min(longest, (soonest - now) / run.opts.time_scale + 0.001))


async def _announce_start(run: Run) -> None:
    if run.state.phase == "starting" and not run.meta.get("announced"):
        run.meta["announced"] = True
        await commit_aside(run, run.state, [Decision(0.0, "release.started",
                                          f"release {run.release.name} started: {run.plan.doc.metadata.version} "
                                          f"replaces {run.plan.doc.metadata.previous_version or 'the stable version'}",
                                          "release.started")], 0.0)
        failpoints.reached("decision.release.started")
        await deliver(run)


async def _observe(run: Run) -> Observations:
    assert run.target is not None
    end = time.time()
    window = run.clock.wall(run.policy.analysis.window)
    metrics = run.target.metrics
    same_age = run.policy.analysis.baseline == "same-age"
    try:
        obs = Observations(
            canary=await metrics.observe("canary", end - window, end),
            stable=await metrics.observe("stable", end - window, end),
            canary_slice=await metrics.observe("canary", run.last_eval_wall, end),
            stable_slice=await metrics.observe("stable", run.last_eval_wall, end),
            loadtest=loadtests.result(run, run.state.stage),
            baseline=await metrics.observe("baseline", end - window, end) if same_age else None,
            baseline_slice=await metrics.observe("baseline", run.last_eval_wall, end) if same_age else None,
        )
    except LaunchdeckError:
        telemetry.METRICS_SOURCE_ERRORS.labels(run.spec.target.metrics.type).inc()
        raise
    run.last_eval_wall = end
    if any(g.metric == "error_budget_remaining" for g in run.policy.gates):
        obs = guardwatch.with_error_budget(run.store, run.release.tenant, run.plan.doc.metadata.service, obs)
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
    want = split_for(run, run.state.weight)
    try:
        seen = await run.target.router.current_split()
    except LaunchdeckError as e:
        run.view.note(f"cannot read the router's weight: {e.message}; judging continues, will retry")
        return
    if seen.matches(want):
        return
    await set_weight(run, run.state.weight)
    served = f"{seen} instead of {want}" if want.baseline or seen.baseline \
        else f"canary {seen.canary:g}% instead of {want.canary:g}%"
    commit(run, run.state, [Decision(now, "weight.reapplied", f"router {run.target.router.type} served {served} "
                                     f"(restarted or changed by hand); "
                                     f"{run.state.weight:g}% applied again and verified", None, None,
                                     {"seen": seen.canary, "wanted": run.state.weight,
                                      **({"seenBaseline": seen.baseline, "wantedBaseline": want.baseline}
                                         if want.baseline or seen.baseline else {})})], now)
