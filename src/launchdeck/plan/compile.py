"""A validated release spec → the engine's frozen Policy."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from launchdeck.plan import model, units

if TYPE_CHECKING:
    from launchdeck.core import policy

# Metrics a sequential judge exists for: rates (errors, availability) and latency quantiles.
_SEQUENTIAL_METRICS = ("error_rate", "availability", "latency_p50_ms", "latency_p95_ms", "latency_p99_ms")
# Gates vs baseline that get the sequential judge when the plan names no method: the canary is worse
# when the figure is higher (errors, latency), the way the sequential test counts bad events.
_DEFAULT_SEQUENTIAL = ("error_rate", "latency_p50_ms", "latency_p95_ms", "latency_p99_ms")


def judge_of(gate: model.GateSpec, spec: model.ReleaseSpec) -> str:
    """The judge a gate gets: its own `test:`, else `analysis.method` where that judge exists for the
    gate, else the default.

    Without a method, a gate relative to the baseline on errors or latency is judged sequentially: the
    threshold judge compares two ratios of a handful of events per window and rolls back healthy
    canaries (issue 16). Latency needs per-request histograms, which only the local metrics source
    has, so latency gates judged from Prometheus keep the threshold judge. Absolute gates keep it too.
    """
    if gate.event is not None:
        return "event"
    if gate.source == "loadtest":
        return "threshold"  # a load test's figures, judged once it has run: no baseline, no stream of slices
    if gate.test:
        return gate.test
    assert gate.metric is not None and gate.threshold is not None and gate.op is not None
    threshold = units.parse_threshold(gate.threshold, gate.metric)
    method = spec.analysis.method
    if method is not None:
        # `analysis.method` applies to the gates its judge exists for; the others keep the threshold
        # judge (throughput, requests, custom Prometheus metrics).
        judged = gate.metric in _SEQUENTIAL_METRICS and (threshold.relative or not gate.metric.startswith("latency"))
        return method if judged else "threshold"
    histograms = spec.target.metrics.type == "local" or not gate.metric.startswith("latency")
    worse_is_higher = gate.op in (">", ">=") and threshold.value >= 0
    if gate.vs is not None and threshold.relative and gate.metric in _DEFAULT_SEQUENTIAL and worse_is_higher \
            and histograms:
        return "sequential"
    return "threshold"


def to_policy(spec: model.ReleaseSpec) -> policy.Policy:
    # Imported here: `validate` loads this module for judge_of and never builds a policy, and the
    # engine's five dataclasses cost about 5 ms of its start.
    from launchdeck.core import policy

    gates = []
    for g in spec.gates:
        if g.event is not None:
            gates.append(policy.Gate(name=g.name, metric=g.event, op=">", threshold=0.0,
                                     threshold_text="any occurrence", severity=g.severity, test="event"))
            continue
        assert g.metric is not None and g.op is not None and g.threshold is not None
        threshold = units.parse_threshold(g.threshold, g.metric)
        gates.append(policy.Gate(
            name=g.name, metric=g.metric, op=g.op, threshold=threshold.value,
            threshold_text=threshold.text, relative=threshold.relative, for_seconds=g.for_,
            severity=g.severity, test=judge_of(g, spec), source=g.source, against=_against(g, spec),
        ))
    # analysis.alpha is the release's false-rollback budget: split evenly across its sequential gates,
    # so the chance that any of them fires on a healthy canary stays under alpha (Bonferroni).
    sequential = [g for g in gates if g.test == "sequential"]
    gates = [replace(g, alpha=spec.analysis.alpha / len(sequential)) if g.test == "sequential" else g for g in gates]
    a = spec.analysis
    rb = spec.rollback.policy
    return policy.Policy(
        stages=tuple(policy.Stage(s.weight, s.hold, tuple(s.approve)) for s in spec.stages),
        analysis=policy.Analysis(a.interval, a.window, a.min_requests, a.alpha, a.max_inconclusive,
                                 a.hold_timeout, a.warmup, a.baseline),
        gates=tuple(gates),
        auto_rollback=rb.immediate.auto,
        urgent=_decision(rb.urgent),
        conditional=_decision(rb.conditional),
        roles={role: frozenset(people) for role, people in spec.roles.items()},
    )


def _against(gate: model.GateSpec, spec: model.ReleaseSpec) -> str:
    """``vs: baseline`` is the analysis' baseline; ``vs: stable`` (and an absolute gate) the stable fleet."""
    return "baseline" if gate.vs == "baseline" and spec.analysis.baseline == "same-age" else "stable"


def _decision(spec: model.DecisionPolicySpec | None) -> policy.DecisionPolicy | None:
    from launchdeck.core import policy

    if spec is None:
        return None
    return policy.DecisionPolicy(spec.window, tuple(spec.authority), spec.default)
