"""Acting on a release that no process drives: the kill switch applied to the plan's router directly.

`launchdeck kill` records the kill in every case. When a run drives the release, that run applies it
at its next tick. When none does (the run was killed, the terminal closed), the command itself opens
the plan's router, rolls back with the plan's own steps, reads weight 0 back, and writes the
evidence, exactly as the run would have. The embedded local router lives inside `launchdeck run`:
with no run there is nothing to move, and the user is told so.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from launchdeck.adapters.routers import factory as routers
from launchdeck.controller import driver
from launchdeck.controller.messages import secret_values
from launchdeck.controller.people import gather
from launchdeck.controller.rollback import roll_back
from launchdeck.controller.runner import new_run, wrap_up
from launchdeck.controller.session import Run, RunOptions, View, commit
from launchdeck.controller.target import Target
from launchdeck.core import engine
from launchdeck.core.engine import StartRollback
from launchdeck.core.state import ReleaseState
from launchdeck.errors import LaunchdeckError
from launchdeck.plan import LoadedPlan, model
from launchdeck.store import leases
from launchdeck.store.leases import Lease
from launchdeck.store.repo import Store


@dataclass(frozen=True)
class KillResult:
    moved: bool
    """True when the router was reached and now serves the canary nothing."""
    message: str
    summary: dict[str, Any] | None = None
    failed: bool = False
    """True when something had to move and could not (the router unreachable, the kill not taken)."""


def embedded_router(spec: model.ReleaseSpec) -> bool:
    return spec.target.on_embedded_fleet()


async def kill_undriven(plan: LoadedPlan, opts: RunOptions, view: View, *, plan_file: Path,
                        tenant: str | None = None) -> KillResult:
    """Roll the release back on its router now; the kill sign-off must already be recorded. ``tenant``: the
    release's (one started over the API belongs to its token's tenant), else the plan's."""
    assert isinstance(plan.doc, model.ReleaseDoc)
    spec, name = plan.doc.spec, plan.doc.metadata.name
    rerun = f"launchdeck run {plan_file}"
    if embedded_router(spec):
        return KillResult(False, f"nothing moved: {name} runs on the embedded local router, which exists only "
                                 f"inside `launchdeck run`, and no run drives it now, so no user reaches the "
                                 f"canary through it. The kill is recorded: `{rerun}` rolls back at once.")
    with Store(opts.db_url) as store:
        found = store.require(name=name, tenant=tenant or plan.doc.metadata.tenant)
        lease = leases.claim(store, found.id, driver.holder_id(), driver.LEASE_SECONDS, dead=driver.dead)
        if lease is None:  # a worker took the release over meanwhile: it applies the recorded kill
            return KillResult(False, f"{name} is driven by {driver.describe(store.find_id(found.id))} now; "
                                     "it applies the recorded kill at its next tick")
        try:
            return await _kill(plan, opts, view, store, lease, rerun)
        finally:
            with suppress(LaunchdeckError):
                leases.let_go(store, lease)


async def _kill(plan: LoadedPlan, opts: RunOptions, view: View, store: Store, lease: Lease, rerun: str) -> KillResult:
    assert isinstance(plan.doc, model.ReleaseDoc)
    spec, name = plan.doc.spec, plan.doc.metadata.name
    found = store.find_id(lease.release_id)
    state = ReleaseState.from_json(found.state["engine"])
    run = new_run(plan, opts, view, store, found, state, dict(found.state))
    run.lease = lease
    if state.phase == "done" and state.outcome == "held":
        step = engine.reopen_held(state, found.plan_clock)
        commit(run, step.state, list(step.decisions), found.plan_clock)
    elif state.phase in ("done", "starting"):
        what = f"already finished ({state.outcome})" if state.phase == "done" else "not started"
        return KillResult(False, f"nothing moved: {name} is {what}, so no traffic goes to its canary "
                                 "through launchdeck. The kill is recorded.")
    try:
        router = routers.build(spec.target.router, base=opts.workdir, metadata=plan.doc.metadata,
                               secrets=secret_values(spec), same_age=spec.analysis.baseline == "same-age")
        run.target = Target(router, None, None, None)  # type: ignore[arg-type]
        if run.state.phase != "rolling_back":
            _decide_kill(run)
        await roll_back(run)
    except LaunchdeckError as e:
        return KillResult(False, f"nothing moved: could not reach the {spec.target.router.type} router: "
                                 f"{e.message}. The kill is recorded; once the router is reachable run "
                                 f"`launchdeck kill` again, or `{rerun}` to roll back from a run.", failed=True)
    summary = await wrap_up(run)
    return KillResult(True, f"no run drives {name}: the kill switch was applied to the "
                            f"{spec.target.router.type} router directly; it reports canary weight "
                            f"{summary['finalWeight']:g}%. Rolled back; evidence: {summary['evidence']}", summary)


def _decide_kill(run: Run) -> None:
    now = run.release.plan_clock
    people = gather(run.store, run.release.id, run.policy, run.state)
    step = engine.decide(run.policy, run.state, now, engine.Inputs(kill=people.kill))
    commit(run, step.state, list(step.decisions), now)
    for used in people.consumed:
        run.store.consume(signoff_id=used)
    if any(isinstance(a, StartRollback) for a in step.actions):
        run.meta["rollback"] = {"steps": [], "decidedAt": now}
    else:  # the kill was not taken (refused): nothing may move
        raise LaunchdeckError("the kill was not taken: " + "; ".join(d.reason for d in step.decisions),
                              hint="check the role given with --role")


__all__ = ["KillResult", "embedded_router", "kill_undriven"]
