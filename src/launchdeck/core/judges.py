"""Judges: pure functions from per-version window stats to a gate verdict with its reason.

``threshold`` compares a window's value with a limit (absolute, or relative to the baseline).
``sequential`` runs an anytime-valid mixture likelihood-ratio test on error counts: its false-alarm
rate stays under alpha however often it is looked at (Ville's inequality on a nonnegative
supermartingale), so it can be evaluated at every interval without the peeking problem.

Two forms of the sequential test:

* relative (``vs: baseline``): given that an error happened during an interval where the canary
  had share q of the requests, it came from the canary with probability
  pi(theta) = q*theta / (q*theta + 1 - q), theta being the ratio of error rates. Under the null
  theta <= theta0 = 1 + threshold. The likelihood ratio against theta0, mixed over a grid of
  alternatives theta > theta0, is a supermartingale under the null.
* absolute: one-sample test that the canary's error rate exceeds the threshold p0, mixed over
  alternatives p > p0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from launchdeck.core.observation import WindowStats
from launchdeck.core.policy import Gate
from launchdeck.core.verdict import Verdict

#: Alternatives of the mixture, as multiples of the null value (rate ratio or rate).
MIXTURE = tuple(1.25 * (16.0 ** (i / 23)) for i in range(24))
_OPS = {">": lambda a, b: a > b, ">=": lambda a, b: a >= b, "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b}


def fmt(metric: str, value: float | None) -> str:
    """A metric value in the unit people read it in."""
    if value is None:
        return "n/a"
    if metric in ("error_rate", "availability"):
        return f"{value * 100:.2f}%"
    if metric.endswith("_ms"):
        return f"{value:.0f}ms"
    if metric == "requests":
        return f"{value:.0f}"
    return f"{value:.3g}"


def limit_of(gate: Gate, baseline_value: float | None) -> float | None:
    if not gate.relative:
        return gate.threshold
    if baseline_value is None:
        return None
    return baseline_value * (1.0 + gate.threshold)


def threshold(gate: Gate, canary: WindowStats, baseline: WindowStats | None, *, min_requests: int,
              baseline_note: str = "") -> Verdict:
    samples = {"canary": canary.requests, "stable": baseline.requests if baseline else 0}
    if canary.requests < min_requests:
        return Verdict(gate.name, "inconclusive",
                       f"{gate.name}: only {canary.requests} canary requests in the window "
                       f"(need {min_requests}); not judged", samples=samples)
    value = canary.metric(gate.metric)
    if value is None or math.isnan(value):
        return Verdict(gate.name, "inconclusive",
                       f"{gate.name}: no data for {gate.metric} from the metrics source", samples=samples)
    base_value: float | None = None
    if gate.relative:
        if baseline is None or baseline.requests < min_requests:
            got = baseline.requests if baseline else 0
            return Verdict(gate.name, "inconclusive",
                           f"{gate.name}: only {got} stable requests to compare with (need {min_requests})",
                           canary=value, samples=samples)
        base_value = baseline.metric(gate.metric)
        if base_value is None or math.isnan(base_value):
            return Verdict(gate.name, "inconclusive",
                           f"{gate.name}: no baseline value for {gate.metric}", canary=value, samples=samples)
    limit = limit_of(gate, base_value)
    assert limit is not None
    breached = _OPS[gate.op](value, limit)
    against = (f"{fmt(gate.metric, limit)} (baseline {fmt(gate.metric, base_value)} {gate.threshold_text}"
               f"{baseline_note})" if gate.relative else fmt(gate.metric, limit))
    verb = "breaches" if breached else "within"
    rel = gate.op if breached else _negate(gate.op)
    reason = (f"{gate.name}: canary {gate.metric} {fmt(gate.metric, value)} {rel} {against}; "
              f"{verb} the gate over {canary.requests} canary requests")
    return Verdict(gate.name, "breach" if breached else "pass", reason, canary=value,
                   baseline=base_value, limit=limit, samples=samples)


def _negate(op: str) -> str:
    return {">": "<=", ">=": "<", "<": ">=", "<=": ">"}[op]


def _failures(stats: WindowStats) -> int:
    return stats.errors


def sequential_update(gate: Gate, log_lr: Sequence[float], canary_slice: WindowStats,
                      baseline_slice: WindowStats | None) -> tuple[float, ...]:
    """Fold one slice of new counts into the mixture's log likelihood ratios (one per alternative)."""
    current = list(log_lr) if log_lr else [0.0] * len(MIXTURE)
    e_c = _failures(canary_slice)
    if gate.relative:
        n_c = canary_slice.requests
        n_b = baseline_slice.requests if baseline_slice else 0
        e_b = _failures(baseline_slice) if baseline_slice else 0
        if n_c == 0 or n_b == 0 or e_c + e_b == 0:
            return tuple(current)
        q = n_c / (n_c + n_b)
        theta0 = 1.0 + max(gate.threshold, 0.0)
        pi0 = q * theta0 / (q * theta0 + 1 - q)
        for i, k in enumerate(MIXTURE):
            theta = theta0 * k
            pi = q * theta / (q * theta + 1 - q)
            current[i] += e_c * math.log(pi / pi0) + e_b * math.log((1 - pi) / (1 - pi0))
        return tuple(current)
    n = canary_slice.requests
    p0 = gate.threshold if gate.metric == "error_rate" else 1.0 - gate.threshold
    if n == 0 or not 0.0 < p0 < 1.0:
        return tuple(current)
    for i, k in enumerate(MIXTURE):
        p = min(p0 * k, 0.999999)
        current[i] += e_c * math.log(p / p0) + (n - e_c) * math.log((1 - p) / (1 - p0))
    return tuple(current)


def e_value(log_lr: Sequence[float]) -> float:
    if not log_lr:
        return 1.0
    top = max(log_lr)
    return math.exp(top) * sum(math.exp(x - top) for x in log_lr) / len(log_lr) if top < 700 else math.inf


def sequential(gate: Gate, log_lr: Sequence[float], canary: WindowStats, baseline: WindowStats | None,
               *, alpha: float, min_requests: int, canary_total: int, baseline_total: int) -> Verdict:
    """Verdict of the sequential test given its accumulated evidence and the current window."""
    bound = 1.0 / alpha
    ev = e_value(log_lr)
    samples = {"canary": canary_total, "stable": baseline_total}
    value = canary.metric("error_rate")
    base_value = baseline.metric("error_rate") if baseline else None
    est = (f"canary {fmt('error_rate', value)} vs stable {fmt('error_rate', base_value)}"
           if gate.relative else f"canary {fmt('error_rate', value)} vs limit {gate.threshold_text}")
    if ev >= bound:
        return Verdict(gate.name, "breach",
                       f"{gate.name}: error rate significantly above "
                       f"{'baseline ' + gate.threshold_text if gate.relative else gate.threshold_text} — "
                       f"{est}; evidence {ev:.3g} ≥ 1/alpha = {bound:.3g} after {canary_total} canary requests",
                       canary=value, baseline=base_value, evidence=ev, bound=bound, samples=samples)
    if canary.requests < min_requests:
        return Verdict(gate.name, "inconclusive",
                       f"{gate.name}: only {canary.requests} canary requests in the window (need "
                       f"{min_requests}); evidence {ev:.3g} < {bound:.3g}",
                       canary=value, baseline=base_value, evidence=ev, bound=bound, samples=samples)
    return Verdict(gate.name, "pass",
                   f"{gate.name}: no significant increase — {est}; evidence {ev:.3g} < 1/alpha = {bound:.3g}",
                   canary=value, baseline=base_value, evidence=ev, bound=bound, samples=samples)
