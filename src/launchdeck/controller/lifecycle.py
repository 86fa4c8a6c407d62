"""Before, during and after the canary: the staging soak, the smoke test after each weight change, and
post-launch checkpoints with `run --follow`.

Soak: before any production stage the new version runs on its own, with its own synthetic traffic
(users stay on the stable version), for the soak's duration; at each listed clock time (plan time
on the planned start's calendar, UTC) its numbers are checked against the criteria. A failed check
stops the release before production: outcome ``refused``, with the values.

Checkpoints: after promotion the target keeps serving; at each checkpoint's time (plan time after
promotion) the criteria are checked on the new version's last window. Each result is a decision
(`checkpoint.passed` / `checkpoint.failed`); a failed one opens an incident in the war room.
"""

from __future__ import annotations

import asyncio
import time
from contextlib import AsyncExitStack
from datetime import datetime, timedelta

from launchdeck.adapters.metrics import MetricsSource
from launchdeck.controller.session import Run, commit, deliver
from launchdeck.core.engine import Decision
from launchdeck.plan import model, units
from launchdeck.runbook import criteria as crit


def criteria_of(items: list[model.CriterionSpec]) -> list[crit.Criterion]:
    out = []
    for c in items:
        t = units.parse_threshold(c.threshold, c.metric)
        out.append(crit.Criterion(c.metric, c.op, t.value, t.text))
    return out


def soak_times(start: datetime, duration: float, clock_times: list[str]) -> list[float]:
    """Plan seconds after the start at which each listed HH:MM falls within the soak."""
    out = []
    end = start + timedelta(seconds=duration)
    day = start.replace(hour=0, minute=0, second=0, microsecond=0)
    while day <= end:
        for hhmm in clock_times:
            h, m = (int(x) for x in hhmm.split(":"))
            at = day + timedelta(hours=h, minutes=m)
            if start < at <= end:
                out.append((at - start).total_seconds())
        day += timedelta(days=1)
    return sorted(out)


async def _wait_until(run: Run, plan_time: float) -> None:
    """Wait for a moment of plan time; the war room's cadence and escalations go on meanwhile."""
    while (now := run.clock.now()) < plan_time:
        extra = run.warroom.after([], run.state, now, f"{run.state.outcome or 'running'}; next check at plan "
                                  f"time {units.format_duration(plan_time)}")
        if extra:
            commit(run, run.state, extra, now)
            await deliver(run)
        await asyncio.sleep(min(0.25, max(0.01, run.clock.wall(plan_time - now))))


async def _check(run: Run, source: MetricsSource, items: list[crit.Criterion]) -> list[crit.CriterionResult]:
    end = time.time()
    stats = await source.observe("canary", end - run.clock.wall(run.policy.analysis.window), end)
    return crit.evaluate(items, stats, min_requests=run.policy.analysis.min_requests)


async def soak(run: Run, stack: AsyncExitStack, planned_start: datetime) -> str | None:
    """Run the soak (resuming past the checks already done); returns why it failed, or None."""
    spec = run.spec.soak
    assert spec is not None and run.target is not None
    source = await run.target.soak_traffic(stack, run.opts.seed)
    done = run.meta.setdefault("soak", {"checks": []})["checks"]
    items = criteria_of(spec.criteria)
    commit(run, run.state, [Decision(run.clock.now(), "soak.started",
                                     f"soak: the new version runs alone for {units.format_duration(spec.duration)} "
                                     f"with synthetic traffic, checked at {', '.join(spec.checks) or 'its end'}")],
           run.clock.now())
    times = soak_times(planned_start, spec.duration, spec.checks) or [spec.duration]
    for at in times:
        if at in done:
            continue
        await _wait_until(run, at)
        results = await _check(run, source, items)
        outcome = crit.verdict(results)
        when = (planned_start + timedelta(seconds=at)).strftime("%a %H:%M")
        why = f"soak check {when}: {outcome} — " + "; ".join(r.describe() for r in results)
        done.append(at)
        commit(run, run.state, [Decision(run.clock.now(), f"soak.{outcome}", why, None, None,
                                         {"results": [r.to_json() for r in results]})], run.clock.now())
        if outcome != "passed":
            return why
    await _wait_until(run, spec.duration)
    return None


async def follow(run: Run, promoted_at: float) -> None:
    """Evaluate every post-launch checkpoint at its time; cadence and escalation keep going meanwhile."""
    post = run.spec.post_launch
    if post is None or run.target is None:
        return
    done = run.meta.setdefault("checkpoints", [])
    for cp in sorted(post.checkpoints, key=lambda c: c.at):
        if any(d["name"] == cp.name for d in done):
            continue
        await _wait_until(run, promoted_at + cp.at)
        results = await _check(run, run.target.metrics, criteria_of(cp.criteria))
        outcome = crit.verdict(results)
        why = f"checkpoint {cp.name}: {outcome} — " + "; ".join(r.describe() for r in results)
        done.append({"name": cp.name, "outcome": outcome, "results": [r.to_json() for r in results]})
        now = run.clock.now()
        decisions = [Decision(now, f"checkpoint.{outcome}", why, f"checkpoint.{outcome}", None,
                              {"checkpoint": cp.name, "results": [r.to_json() for r in results],
                               **({"severity": "urgent"} if outcome == "failed" else {})})]
        decisions += run.warroom.after(decisions, run.state, now, why)
        commit(run, run.state, decisions, now)
        await deliver(run)


async def smoke(run: Run, weight: float) -> str | None:
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
