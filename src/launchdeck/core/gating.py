"""One gate's verdict at one evaluation: which judge decides, on which figures (the analysis window,
the slice since the previous evaluation, or the stage's load test), and whether the gate is *waiting*.

A waiting gate (latency while the canary warms up, a load-test gate while its load test runs) keeps
the stage from passing but is not "too little data": it neither counts toward the inconclusive streak
nor leads to a hold. A load-test gate in a stage that runs no load test is not judged at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from launchdeck.core import judges, mannwhitney
from launchdeck.core.comparison import Side
from launchdeck.core.policy import Analysis, Gate
from launchdeck.core.state import GateTrack
from launchdeck.core.verdict import Verdict

if TYPE_CHECKING:
    from launchdeck.core.engine import Observations


@dataclass(frozen=True)
class Context:
    """What every gate of one evaluation is judged with."""

    analysis: Analysis
    now: float
    forget: float
    """Sequential judges: the weight of the plug-in's recent sums before this slice."""
    sides: Mapping[str, Side]
    """What relative gates compare with (``core.comparison``): the stable fleet, and with a same-age
    baseline the baseline, each with its window (or counts frozen at cut-over), slice, yardstick and
    totals."""
    canary_total: int


def judge(gate: Gate, track: GateTrack, obs: Observations, ctx: Context) -> tuple[Verdict | None, GateTrack, bool]:
    """The gate's verdict (None: not judged at this evaluation), its track with updated evidence, and
    whether it is waiting."""
    a = ctx.analysis
    if gate.source == "loadtest":
        verdict, waiting = _load_test(gate, obs)
        return verdict, track, waiting
    side = ctx.sides.get(gate.against)
    if side is None:
        return Verdict(gate.name, "inconclusive", f"{gate.name}: the same-age baseline was not observed; "
                       "not judged"), track, False
    if gate.metric in judges.LATENCY_QUANTILES and ctx.now < a.warmup:
        return Verdict(gate.name, "inconclusive", f"{gate.name}: not judged while the canary warms up "
                       f"(analysis.warmup: latency is judged from t+{a.warmup:g}s)"), track, True
    if gate.test == "sequential":
        quantile = judges.LATENCY_QUANTILES.get(gate.metric)
        ref_ms = side.reference.latency.quantile(quantile) if side.reference and quantile else None
        # With the side serving nothing (the stable fleet at 100%), its slice holds only stragglers from
        # before cut-over while the canary's is all after it: compared, they would count a change over
        # time (a loaded machine, the canary's first seconds at full load) as the canary's doing.
        stands = not side.serving and judges.compares(gate)
        evidence = track.evidence if stands else judges.sequential_update(
            gate, track.evidence, obs.canary_slice, side.slice, reference_ms=ref_ms, forget=ctx.forget)
        v = judges.sequential(gate, evidence, obs.canary, side.window, alpha=gate.alpha or a.alpha,
                              min_requests=a.min_requests, canary_total=ctx.canary_total,
                              baseline_total=side.total, against=side.name, stands=stands)
        return v, replace(track, evidence=evidence), False
    if gate.test == "event":
        return judges.event(gate, obs.canary_slice), track, False
    if gate.test == "mann-whitney":
        return mannwhitney.judge(gate, obs.canary, side.window, alpha=a.alpha, min_requests=a.min_requests,
                                 against=side.name), track, False
    return judges.threshold(gate, obs.canary, side.window, min_requests=a.min_requests,
                            baseline_note=side.note, against=side.name), track, False


def _load_test(gate: Gate, obs: Observations) -> tuple[Verdict | None, bool]:
    result = obs.loadtest
    if result is None:
        return None, False
    if result.failed is not None:
        return Verdict(gate.name, "inconclusive", f"{gate.name}: the stage's {result.tool} load test failed: "
                       f"{result.failed}"), False
    if result.stats is None:
        return Verdict(gate.name, "inconclusive", f"{gate.name}: waiting for the stage's {result.tool} load test"), True
    return judges.threshold(gate, result.stats, None, min_requests=1, subject=f"{result.tool} load test"), False
