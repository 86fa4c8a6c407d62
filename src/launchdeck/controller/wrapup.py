"""After the outcome: the wrap-up (final bundle, then the outbox), recorded part by part, and what a
finished release reports when its plan is run again.

A run killed after its outcome commit and started again finishes what is missing here, once, and
never moves traffic: finished means finished.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from launchdeck.controller import evidence as bundles
from launchdeck.controller import failpoints, outbox
from launchdeck.controller.session import Run, commit, flush, summary, write_evidence


async def report_finished(run: Run) -> dict[str, Any]:
    """The release already has its outcome: finish its wrap-up if a crash cut it short, then report
    the recorded outcome. Nothing moves: a canary known to be bad never goes back to its users."""
    name, outcome = run.release.name, run.state.outcome
    if not run.meta.get("wrapup", {}).get("done"):
        run.view.note(f"release {name} reached its outcome ({outcome}) but its wrap-up did not finish; "
                      "finishing it now (final evidence, queued messages)")
        return await wrap_up(run)
    run.evidence_path = Path(run.meta["wrapup"]["evidence"])
    run.view.note(f"release {name} already finished: {outcome}. Nothing was moved. To run it again: "
                  f"`launchdeck retry {name}` (or `run --fresh`)")
    if outbox.undelivered(run.store, run.release.id)["count"]:
        await flush(run)  # what a failing channel left behind goes now, in order, once each
    return {**run.meta["wrapup"]["summary"], "evidence": str(run.evidence_path),
            "undelivered": outbox.undelivered(run.store, run.release.id)}


async def wrap_up(run: Run) -> dict[str, Any]:
    """After the outcome commit: the final bundle, then the outbox. Each part is recorded when done, so a
    run killed in between and started again finishes what is missing, once."""
    failpoints.reached("outcome.committed")
    wrap = run.meta.setdefault("wrapup", {})
    if wrap.get("evidence") and Path(wrap["evidence"]).is_file():
        run.evidence_path = Path(wrap["evidence"])
    else:
        run.evidence_path = write_evidence(run, None)
        wrap["evidence"] = str(run.evidence_path)
        _save_meta(run)
    failpoints.reached("wrapup.evidence")
    await flush(run)
    wrap["summary"] = summary(run)
    wrap["done"] = True
    _save_meta(run)
    return wrap["summary"]


def write_missing_stage_bundles(run: Run) -> None:
    """A run killed between a stage's commit and its bundle writes that bundle when it resumes."""
    directory = run.opts.workdir / run.spec.evidence.dir
    for stage in range(1, run.state.stages_passed + 1):
        if not (directory / bundles.file_name(run.release, f"stage-{stage}")).is_file():
            write_evidence(run, f"stage-{stage}")


def _save_meta(run: Run) -> None:
    commit(run, run.state, [], run.clock.now() if run.target else run.release.plan_clock)
