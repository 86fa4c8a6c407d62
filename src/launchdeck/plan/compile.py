"""A validated release spec → the engine's frozen Policy."""

from __future__ import annotations

from launchdeck.core import policy
from launchdeck.plan import model, units

_RATE_METRICS = ("error_rate", "availability")


def to_policy(spec: model.ReleaseSpec) -> policy.Policy:
    method = spec.analysis.method
    gates = []
    for g in spec.gates:
        threshold = units.parse_threshold(g.threshold, g.metric)
        # `analysis.method: sequential` applies to the gates a sequential judge exists for (rates);
        # the others keep their threshold judge.
        test = g.test or (method if g.metric in _RATE_METRICS else "threshold")
        gates.append(policy.Gate(
            name=g.name, metric=g.metric, op=g.op, threshold=threshold.value,
            threshold_text=threshold.text, relative=threshold.relative, for_seconds=g.for_,
            severity=g.severity, test=test,
        ))
    a = spec.analysis
    rb = spec.rollback.policy
    return policy.Policy(
        stages=tuple(policy.Stage(s.weight, s.hold, tuple(s.approve)) for s in spec.stages),
        analysis=policy.Analysis(a.interval, a.window, a.min_requests, a.alpha, a.max_inconclusive,
                                 a.hold_timeout),
        gates=tuple(gates),
        auto_rollback=rb.immediate.auto,
        urgent=_decision(rb.urgent),
        conditional=_decision(rb.conditional),
        roles={role: frozenset(people) for role, people in spec.roles.items()},
    )


def _decision(spec: model.DecisionPolicySpec | None) -> policy.DecisionPolicy | None:
    if spec is None:
        return None
    return policy.DecisionPolicy(spec.window, tuple(spec.authority), spec.default)
