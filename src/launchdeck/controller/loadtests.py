"""Each stage's load test, run beside the tick loop from the moment the stage starts.

The test runs as a task (Locust is a process of its own; a k6 summary is only read), so ticks, gates
and a rollback never wait for it. When it ends, its report is committed as a ``loadtest.completed``
decision (``loadtest.failed`` when it could not run): it is in the decision log and the evidence,
and kept in the release's state, so a restarted run never runs it again. Until then the stage's
``source: loadtest`` gates wait (the stage cannot pass); a rollback stops a test still running.
"""

from __future__ import annotations

import asyncio
from contextlib import suppress

from launchdeck.adapters.loadtest import Report, k6, locust
from launchdeck.controller.session import Run, commit, fence
from launchdeck.core.engine import Decision
from launchdeck.core.observation import LoadTestResult
from launchdeck.errors import LaunchdeckError
from launchdeck.plan.hooks_model import LoadTestSpec


def start(run: Run, stage: int) -> None:
    """Start the stage's load test, unless it has none, it runs already, or its result is recorded."""
    spec = run.spec.stages[stage].load_test
    if spec is None or _recorded(run, stage) is not None or stage in run.loadtests:
        return
    host = spec.host or (run.target.fleet.url("canary") if run.target and run.target.fleet else "")
    fence(run, f"loadtest:stage-{stage + 1}")  # load sent to a target is an effect: not from a driver that lost it
    run.view.note(f"stage {stage + 1}: {_tool(spec)} load test started" + (f" against {host}" if spec.locust else ""))
    secrets = run.dispatcher.secrets if run.dispatcher else []
    run.loadtests[stage] = asyncio.create_task(_execute(spec, host, run, secrets))


async def _execute(spec: LoadTestSpec, host: str, run: Run, secrets: list[str]) -> Report:
    if spec.k6 is not None:
        return k6.read(spec, cwd=run.opts.workdir)
    return await locust.run(spec, host=host, cwd=run.opts.workdir, secrets=secrets)


def collect(run: Run, now: float) -> None:
    """Record the load tests that have ended since the last tick."""
    for stage, task in list(run.loadtests.items()):
        if not task.done() or _recorded(run, stage) is not None:
            continue
        spec = run.spec.stages[stage].load_test
        assert spec is not None
        kept = run.meta.setdefault("loadtests", {})
        try:
            report = task.result()
        except LaunchdeckError as e:
            kept[str(stage + 1)] = {"tool": _tool(spec), "failed": e.message}
            decision = Decision(now, "loadtest.failed", f"stage {stage + 1}: the {_tool(spec)} load test failed: "
                                f"{e.message}", None, None, {"stage": stage + 1, "tool": _tool(spec)})
        else:
            kept[str(stage + 1)] = {"tool": report.tool, "report": report.to_json()}
            decision = Decision(now, "loadtest.completed", f"stage {stage + 1} load test: {report.describe()}",
                                None, None, {"stage": stage + 1, **report.to_json()})
        commit(run, run.state, [decision], now)


def result(run: Run, stage: int) -> LoadTestResult | None:
    """The stage's load test for the engine: None when the stage has none."""
    spec = run.spec.stages[stage].load_test if stage < len(run.spec.stages) else None
    if spec is None:
        return None
    kept = _recorded(run, stage)
    if kept is None:
        return LoadTestResult(tool=_tool(spec))
    if "failed" in kept:
        return LoadTestResult(failed=str(kept["failed"]), tool=_tool(spec))
    return LoadTestResult(stats=Report.from_json(kept["report"]).stats(), tool=_tool(spec))


async def stop(run: Run) -> None:
    """Stop every load test still running (their processes with them)."""
    for task in run.loadtests.values():
        task.cancel()
    for task in run.loadtests.values():
        with suppress(asyncio.CancelledError, LaunchdeckError):
            await task


def _recorded(run: Run, stage: int) -> dict[str, object] | None:
    kept = run.meta.get("loadtests", {}).get(str(stage + 1))
    return kept if isinstance(kept, dict) else None


def _tool(spec: LoadTestSpec) -> str:
    return "Locust" if spec.locust else "k6"
