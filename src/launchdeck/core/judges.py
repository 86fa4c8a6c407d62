"""Judges: pure functions from per-version window stats to a gate verdict with its reason.

``threshold`` compares a window's value with a limit (absolute, or relative to the baseline).
``sequential`` turns a gate into counts of bad events (errors, or requests slower than the
baseline's quantile) and fires when the anytime-valid evidence of ``launchdeck.core.sequential``
reaches 1/alpha: its false-alarm rate stays under alpha however often it is looked at.
``mann-whitney`` (Kayenta-style) lives in ``launchdeck.core.mannwhitney``.
"""

from __future__ import annotations

import math

from launchdeck.core import dispersion, intervals
from launchdeck.core.observation import WindowStats
from launchdeck.core.policy import Gate
from launchdeck.core.sequential import Evidence
from launchdeck.core.sketch import bucket_mid_ms
from launchdeck.core.verdict import Verdict

LATENCY_QUANTILES = {"latency_p50_ms": 0.50, "latency_p95_ms": 0.95, "latency_p99_ms": 0.99}
#: The comparison each gate `op` names (value op limit).
OPS = {">": lambda a, b: a > b, ">=": lambda a, b: a >= b, "<": lambda a, b: a < b,
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
              baseline_note: str = "", subject: str = "canary", against: str = "stable") -> Verdict:
    """``subject`` names whose figures these are in the reason (the canary's; a load test's); ``against``
    the version compared with: ``stable`` or the same-age ``baseline``."""
    samples = {"canary": canary.requests, against: baseline.requests if baseline else 0}
    if canary.requests < min_requests:
        return Verdict(gate.name, "inconclusive",
                       f"{gate.name}: only {canary.requests} {subject} requests in the window "
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
                           f"{gate.name}: only {got} {against} requests to compare with (need {min_requests})",
                           canary=value, samples=samples)
        base_value = baseline.metric(gate.metric)
        if base_value is None or math.isnan(base_value):
            return Verdict(gate.name, "inconclusive",
                           f"{gate.name}: no baseline value for {gate.metric}", canary=value, samples=samples)
    limit = limit_of(gate, base_value)
    assert limit is not None
    breached = OPS[gate.op](value, limit)
    limit_text = (f"{fmt(gate.metric, limit)} ({base_word(against)} {fmt(gate.metric, base_value)} "
                  f"{gate.threshold_text}{baseline_note})" if gate.relative else fmt(gate.metric, limit))
    verb = "breaches" if breached else "within"
    rel = gate.op if breached else _negate(gate.op)
    reason = (f"{gate.name}: {subject} {gate.metric} {fmt(gate.metric, value)} {rel} {limit_text}; "
              f"{verb} the gate over {canary.requests} {subject} requests")
    return Verdict(gate.name, "breach" if breached else "pass", reason, canary=value,
                   baseline=base_value, limit=limit, samples=samples)


def base_word(against: str) -> str:
    """How reasons name what a relative gate compares with: the baseline (the stable fleet, as before), or
    the same-age baseline."""
    return "same-age baseline" if against == "baseline" else "baseline"


def _negate(op: str) -> str:
    return {">": "<=", ">=": "<", "<": ">=", "<=": ">"}[op]


def slow_counts(canary: WindowStats, baseline: WindowStats | None, limit_ms: float,
                slack: float) -> tuple[int, int]:
    """Requests slower than ``limit_ms``: canary latencies first divided by ``1 + slack``."""
    c = sum(n for b, n in canary.latency.counts.items() if bucket_mid_ms(b) / (1 + slack) > limit_ms)
    s = sum(n for b, n in baseline.latency.counts.items() if bucket_mid_ms(b) > limit_ms) if baseline else 0
    return c, s


def compares(gate: Gate) -> bool:
    """Whether a sequential gate's evidence weighs the canary's slice against the other side's (relative
    gates and latency), rather than against a fixed rate."""
    return gate.relative or gate.metric in LATENCY_QUANTILES


def sequential_update(gate: Gate, evidence: Evidence, canary_slice: WindowStats, baseline_slice: WindowStats | None,
                      *, reference_ms: float | None = None, forget: float = 0.5) -> Evidence:
    """Fold one slice of new counts into the gate's evidence (see ``launchdeck.core.sequential``).

    Latency gates count "slow" requests: slower than ``reference_ms`` (the baseline's quantile from
    an earlier window, so the reference never depends on the slice being judged), the canary's
    latencies first divided by 1 + threshold. Under "canary quantile <= baseline quantile x (1 +
    threshold)" a slow request is no likelier to come from the canary than its share of traffic.
    ``forget`` weighs the plug-in's recent sums before the slice is added (0.5: halve them).
    """
    n_c = canary_slice.requests
    n_b = baseline_slice.requests if baseline_slice else 0
    if gate.metric in LATENCY_QUANTILES:
        if reference_ms is None:
            return evidence
        e_c, e_b = slow_counts(canary_slice, baseline_slice, reference_ms, max(gate.threshold, 0.0))
        return evidence.add(e_c, e_b, n_c, n_b, 1.0, forget=forget)
    e_c = canary_slice.errors
    if gate.relative:
        e_b = baseline_slice.errors if baseline_slice else 0
        # Against a same-age baseline both sides are single instances whose error rates wander: discount
        # for the bursts (core/dispersion.py). Against the warm fleet only the canary wanders, half the spread;
        # that judge is left as it was (its leak is masked by its warm-up, issue 3).
        wander = dispersion.INSTANCE_WANDER if gate.against == "baseline" else 0.0
        return evidence.add(e_c, e_b, n_c, n_b, 1.0 + max(gate.threshold, 0.0), forget=forget, wander=wander)
    p0 = gate.threshold if gate.metric == "error_rate" else 1.0 - gate.threshold
    if n_c == 0 or not 0.0 < p0 < 1.0:
        return evidence
    return evidence.add_one_sample(e_c, n_c, p0, forget=forget)


def estimate(metric: str, stats: WindowStats | None) -> intervals.Estimate | None:
    """A version's figure for a sequential gate with its 95% interval over the window."""
    if stats is None:
        return None
    if metric in LATENCY_QUANTILES:
        return intervals.quantile(stats.latency, LATENCY_QUANTILES[metric])
    return intervals.rate(stats.errors, stats.requests)


def _described(metric: str, est: intervals.Estimate | None) -> str:
    if est is None:
        return "n/a"
    if math.isinf(est.high):
        return f"{fmt(metric, est.value)} (95% CI ≥ {fmt(metric, est.low)}; too few requests to bound it above)"
    return f"{fmt(metric, est.value)} (95% CI {fmt(metric, est.low)}–{fmt(metric, est.high)})"


def sequential(gate: Gate, evidence: Evidence, canary: WindowStats, baseline: WindowStats | None,
               *, alpha: float, min_requests: int, canary_total: int, baseline_total: int,
               against: str = "stable", stands: bool = False) -> Verdict:
    """Verdict of the sequential test given its accumulated evidence and the current window.

    The reason reads as a person would report it: each version's figure over the window with its
    95% interval, the evidence against "canary no worse" and the bound it must reach, and how
    many requests the evidence rests on. ``stands``: the other side serves nothing at this weight, so
    the evidence is as it was at cut-over (the window is then the side's counts frozen there)."""
    bound = 1.0 / alpha
    ev = evidence.value
    samples = {"canary": canary_total, against: baseline_total}
    metric = gate.metric if gate.metric in LATENCY_QUANTILES else "error_rate"
    c_est, b_est = estimate(metric, canary), estimate(metric, baseline)
    value = c_est.value if c_est else canary.metric(metric)
    base_value = b_est.value if b_est else (baseline.metric(metric) if baseline else None)
    what = "p" + metric.split("_p")[1].split("_")[0] + " latency" if metric in LATENCY_QUANTILES else "error rate"
    limit = f"{base_word(against)} {gate.threshold_text}" if gate.relative else gate.threshold_text
    est = (f"canary {_described(metric, c_est)} vs {against} {_described(metric, b_est)}"
           if gate.relative or metric != "error_rate"
           else f"canary {_described(metric, c_est)} vs limit {gate.threshold_text}")
    common = dict(canary=value, baseline=base_value, evidence=ev, bound=bound, samples=samples,
                  canary_interval=(c_est.low, c_est.high) if c_est else None,
                  baseline_interval=(b_est.low, b_est.high) if b_est else None)
    over = f"after {canary_total} canary and {baseline_total} {against} requests"
    if stands:
        over += f"; the {against} version serves no traffic at this weight, so the evidence stands as at cut-over"
    if evidence.design_effect > 1.0:
        over += (f", each error counted as 1/{evidence.design_effect:.2g} of an independent one "
                 "(a single instance's errors come in bursts)")
    if ev >= bound:
        return Verdict(gate.name, "breach", f"{gate.name}: {what} significantly above {limit} — {est} over the "
                       f"window; evidence {ev:.3g} ≥ 1/alpha = {bound:.3g} {over}",
                       **common)  # type: ignore[arg-type]
    if canary.requests < min_requests:
        return Verdict(gate.name, "inconclusive", f"{gate.name}: only {canary.requests} canary requests in the "
                       f"window (need {min_requests}); evidence {ev:.3g} < {bound:.3g}", **common)  # type: ignore[arg-type]
    return Verdict(gate.name, "pass", f"{gate.name}: no significant increase of {what} over {limit} — {est} over "
                   f"the window; evidence {ev:.3g} < 1/alpha = {bound:.3g} {over}", **common)  # type: ignore[arg-type]


def event(gate: Gate, canary_slice: WindowStats) -> Verdict:
    """An event gate: any occurrence of the event (``gate.metric``) reported by the canary since the previous
    evaluation fires it, however few requests there were; judged on the slice so each occurrence is
    judged once, and a gate that was let continue is not fired again by the same occurrences."""
    name = gate.metric
    count = canary_slice.events.get(name)
    samples = {"canary": canary_slice.requests}
    if count is None:
        return Verdict(gate.name, "inconclusive", f"{gate.name}: the metrics source could not count {name} events; "
                       "not judged", samples=samples)
    if count > 0:
        return Verdict(gate.name, "breach", f"{gate.name}: {count:g} {name} event(s) from the canary since the "
                       "previous evaluation; any occurrence fires this gate", canary=count, limit=0.0, samples=samples)
    return Verdict(gate.name, "pass", f"{gate.name}: no {name} events from the canary since the previous evaluation",
                   canary=0.0, limit=0.0, samples=samples)
