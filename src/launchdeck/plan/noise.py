"""Gates that can only be judged on noise: too few errors per window to compare two error rates.

A gate relative to the baseline, judged by ``threshold``, compares the canary's error rate over one
window with the stable version's. When a window holds a handful of canary errors, that comparison is a
ratio of small counts: one error more or less swings the canary's rate by tens of percent, and a
healthy canary breaches a +50% gate on chance alone (issue 16). The sequential judge does not have this
problem: it weighs every error as evidence and holds its false-rollback rate under alpha.

The estimate is the expected number of canary errors per window at the first stage for a canary as
healthy as stable: load x first weight x window x the stable version's error rate. Only the embedded
local target states its load (``target.load.rps``, per *wall* second, so a higher ``--time-scale``
means fewer requests per window) and its stable error rate; for other targets the load is unknown,
and the warning says what to check instead. ``controller.target.thin_windows`` is the companion check
for ``minRequests``.
"""

from __future__ import annotations

import math

from launchdeck.plan import model, units
from launchdeck.plan.compile import judge_of

#: Fewer expected canary errors per window than this and a relative error gate judges noise.
MIN_EXPECTED_ERRORS = 5.0
_RATE_METRICS = ("error_rate", "availability")


def expected_canary_errors(spec: model.ReleaseSpec, time_scale: float = 1.0) -> float | None:
    """Canary errors per analysis window at the first stage for a canary as healthy as stable; None when
    the target's load is not known to launchdeck (real routers: the users make the load)."""
    if not _local(spec) or not spec.stages:
        return None
    requests = spec.target.load.rps * spec.stages[0].weight / 100.0 * spec.analysis.window / time_scale
    return requests * spec.target.versions.stable.error_rate


def noisy_gates(spec: model.ReleaseSpec, time_scale: float = 1.0) -> list[str]:
    """One warning per gate that compares error rates with the baseline by threshold on too few errors,
    saying what to change."""
    gates = [g for g in spec.gates if g.metric in _RATE_METRICS and g.vs is not None
             and judge_of(g, spec) == "threshold"]
    if not gates or not spec.stages:
        return []
    expected = expected_canary_errors(spec, time_scale)
    out = []
    for gate in gates:
        what = f"gate '{gate.name}' ({gate.metric} {gate.op} {gate.threshold} vs {gate.vs}, threshold judge)"
        if expected is None:
            out.append(f"{what}: launchdeck cannot know this target's load, so it cannot tell whether a window "
                       f"holds enough errors to compare; at the first stage's weight a window should hold at "
                       f"least {MIN_EXPECTED_ERRORS:g} canary errors at the stable version's error rate, or "
                       f"the comparison is noise. The sequential judge needs no such count ({_how(gate, spec)})")
        elif expected < MIN_EXPECTED_ERRORS:
            out.append(f"{what} is judged on noise: {_estimate(spec, expected, time_scale)}. "
                       f"{_remedy(gate, spec, expected, time_scale)}")
    return out


def _local(spec: model.ReleaseSpec) -> bool:
    return spec.target.on_embedded_fleet()


def _estimate(spec: model.ReleaseSpec, expected: float, time_scale: float) -> str:
    first = spec.stages[0].weight
    window = units.format_duration(spec.analysis.window)
    wall = (f"{units.format_duration(spec.analysis.window / time_scale)} of wall time ({window} at --time-scale "
            f"{time_scale:g})" if time_scale != 1 else window)
    rate = spec.target.versions.stable.error_rate
    return (f"at stage 1 ({first:g}%) a canary as healthy as stable makes about {expected:.2g} errors per "
            f"{window} window ({spec.target.load.rps:g} rps x {first:g}% x {wall} x the stable version's "
            f"{rate * 100:.2f}% errors), so one error more or less decides the gate")


def _remedy(gate: model.GateSpec, spec: model.ReleaseSpec, expected: float, time_scale: float) -> str:
    use = f"Use the sequential judge ({_how(gate, spec)})"
    if expected <= 0:
        return f"{use}: with a stable version that makes no errors, any canary error breaches"
    factor = MIN_EXPECTED_ERRORS / expected
    options = [f"analysis.window {units.format_duration(_up(spec.analysis.window * factor))}"]
    if spec.target.load.rps * factor <= 5000:
        options.append(f"target.load.rps {_up(spec.target.load.rps * factor)}")
    if spec.stages[0].weight * factor <= 100:
        options.append(f"a first weight of {_up(spec.stages[0].weight * factor)}%")
    if time_scale / factor >= 1:
        options.append(f"--time-scale {math.floor(time_scale / factor * 10) / 10:g}")
    either = ", ".join(options[:-1]) + f" or {options[-1]}" if len(options) > 1 else options[0]
    return f"{use}, or for at least {MIN_EXPECTED_ERRORS:g} expected errors per window: {either}"


def _up(x: float) -> int:
    return math.ceil(x - 1e-9)


def _how(gate: model.GateSpec, spec: model.ReleaseSpec) -> str:
    if gate.test == "threshold":
        return "drop `test: threshold` from the gate"
    unset = spec.model_copy(update={"analysis": spec.analysis.model_copy(update={"method": None})})
    if spec.analysis.method == "threshold" and judge_of(gate, unset) == "sequential":
        return "drop `method: threshold`: gates vs baseline then use it"
    return "write `test: sequential` on the gate"
