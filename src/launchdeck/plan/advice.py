"""What `validate`, `run` and the server's plan check say about a valid plan: warnings, never refusals.

* gates judged on noise (``plan.noise``);
* a same-age baseline no gate uses, or a warm-up it makes unnecessary (``plan.baseline``);
* figures nobody watches once the canary serves everyone: at 100% the stable version (and a same-age
  baseline) serves nothing, so a sequential gate comparing with it keeps the evidence it had at cut-over
  and learns nothing more (``core.gating``). Gates that still see the canary there are absolute gates
  and the threshold and Mann-Whitney judges, which compare with the counts frozen at cut-over.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from launchdeck.plan import baseline, model
from launchdeck.plan.compile import judge_of
from launchdeck.plan.noise import noisy_gates

if TYPE_CHECKING:
    from launchdeck.plan.loader import LoadedPlan

# The figures a gate can watch at 100%, and an absolute gate the warning offers for each.
_FAMILIES = {
    "errors": (("error_rate", "availability"), '{metric: error_rate, op: ">", threshold: 2%}'),
    "latency": (("latency_p50_ms", "latency_p95_ms", "latency_p99_ms"), '{metric: latency_p95_ms, op: ">", threshold: 500ms}'),
}


def warnings(spec: model.ReleaseSpec, time_scale: float = 1.0) -> list[str]:
    """Every warning for one release's spec (a train gives each service's)."""
    return noisy_gates(spec, time_scale) + unwatched_at_full_weight(spec) + baseline.notes(spec)


def of_plan(loaded: LoadedPlan, time_scale: float = 1.0) -> list[str]:
    """Every warning for a plan; a train's are each prefixed with its service's name (``[search] …``)."""
    if not loaded.is_train:
        return warnings(loaded.doc.spec, time_scale)
    return [f"[{entry.name}] {w}" for entry, spec in loaded.services for w in warnings(spec, time_scale)]


def unwatched_at_full_weight(spec: model.ReleaseSpec) -> list[str]:
    """One warning per kind of figure (errors, latency) that only sequential gates against another version
    watch, in a plan with a stage at 100%: there those gates see nothing new."""
    if not any(stage.weight >= 100 for stage in spec.stages):
        return []
    out = []
    for what, (metrics, example) in _FAMILIES.items():
        gates = [g for g in spec.gates if g.metric in metrics and g.source == "target"]
        blind = [g.name for g in gates if g.vs is not None and judge_of(g, spec) == "sequential"]
        if blind and len(blind) == len(gates):
            names = ", ".join(f"'{name}'" for name in blind)
            out.append(f"at 100% the canary serves everyone and {names} compare{'s' if len(blind) == 1 else ''} "
                       f"it with a version that serves nothing: a sequential gate keeps its evidence from "
                       f"cut-over, so no gate watches the canary's {what} there; add an absolute gate such as "
                       f"`{example}`")
    return out
