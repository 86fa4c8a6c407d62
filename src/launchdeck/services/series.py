"""A release's gate metrics over time, for the dashboard's charts: canary and stable at every evaluation (an
error rate with its 95% interval), the gate's limit as it was judged, and the moments the weight changed
and something was decided.

Read from the decision log alone (each evaluation keeps the windows it compared and each gate's
verdict), so a chart drawn later shows exactly what was judged. ``point`` turns one evaluation into
one step of every chart; the live page feeds it the evaluations the event stream sends.
"""

from __future__ import annotations

from typing import Any

from launchdeck.core import intervals
from launchdeck.core.observation import WindowStats
from launchdeck.services import details
from launchdeck.services.reading import finite
from launchdeck.store import queries
from launchdeck.store.repo import Store, StoredRelease

#: Figures every release is charted on, whatever its gates measure.
ALWAYS = ("error_rate", "latency_p95_ms", "throughput_rps")
#: Decisions marked on the charts (an evaluation is a point, not a marker).
MARKED = ("stage.started", "gate.fired", "decision.requested", "decision.taken", "decision.default",
          "hold.started", "rollback.started", "release.paused", "release.resumed", "release.promoted",
          "release.rolled_back", "release.held", "release.refused")


def metrics_of(gates: list[dict[str, Any]]) -> list[str]:
    """The charted metrics: each gate's, then the standard ones no gate already draws."""
    named = [g["metric"] for g in gates if g.get("metric")]
    return list(dict.fromkeys([*named, *ALWAYS]))


def point(inputs: dict[str, Any], plan_at: float, metrics: list[str], by_gate: dict[str, str | None]) -> dict[str, Any]:
    """One evaluation as a step of each chart: ``{metric: {canary, stable, low, high, limit}}`` (None where
    a side had no data; ``limit``: the limit its gate was judged against; ``by_gate``: gate → metric)."""
    sides = {k: WindowStats.from_json(inputs[k]) for k in ("canary", "stable") if isinstance(inputs.get(k), dict)}
    out: dict[str, Any] = {"t": plan_at}
    for metric in metrics:
        c, s = sides.get("canary"), sides.get("stable")
        entry: dict[str, Any] = {"canary": c.metric(metric) if c else None, "stable": s.metric(metric) if s else None,
                                 "low": None, "high": None, "limit": None}
        if metric == "error_rate" and c is not None and "error_rate" not in c.values:
            estimate = intervals.rate(c.errors, c.requests)
            if estimate is not None:
                entry["low"], entry["high"] = estimate.low, estimate.high
        out[metric] = entry
    for verdict in inputs.get("verdicts", []):
        metric = by_gate.get(verdict.get("gate")) if isinstance(verdict, dict) else None
        if metric in out and verdict.get("limit") is not None:
            out[metric]["limit"] = verdict["limit"]
    return finite(out)


def timeline(store: Store, found: StoredRelease) -> dict[str, Any]:
    """The charts' data: the metrics, one point per evaluation (the gate's limit put on its metric), and the
    markers (weight changes and decisions) with their plan time."""
    gates = details.gates(store, found)
    metrics = metrics_of(gates)
    by_gate = {g["name"]: g.get("metric") for g in gates}
    points, markers, last = [], [], 0
    for d in queries.decisions_after(store, release_id=found.id, only=("evaluation", *MARKED)):
        last = d.seq
        if d.kind == "evaluation":
            points.append(point(d.inputs, d.plan_at, metrics, by_gate))
        else:
            markers.append(marker(d.kind, d.plan_at, d.reason, d.inputs))
    return {"metrics": metrics, "byGate": by_gate, "gates": {g["name"]: {"metric": g.get("metric"), "op": g.get("op")} for g in gates},
            "points": points, "markers": markers, "lastSeq": last}


def marker(kind: str, plan_at: float, reason: str, inputs: dict[str, Any]) -> dict[str, Any]:
    """A moment marked on every chart: a weight change (``stage.started``, a rollback) or a decision."""
    weight = inputs.get("weight") if kind == "stage.started" else 0.0 if kind == "rollback.started" else None
    return {"t": plan_at, "kind": kind, "weight": weight, "reason": reason}
