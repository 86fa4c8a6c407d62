"""The engine's view of a plan: plain frozen values, already parsed and checked.

``launchdeck.plan`` compiles a validated plan file into a :class:`Policy`; the engine never sees
YAML, units or pydantic.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Stage:
    weight: float
    """Canary share in percent (of requests, or of users for flag routers)."""
    hold: float
    """Minimum plan seconds at this weight before the stage may pass."""
    approve: tuple[str, ...] = ()
    """Roles that must each sign off before leaving the stage."""


@dataclass(frozen=True)
class Gate:
    name: str
    metric: str
    op: str
    threshold: float
    """Absolute value in the metric's unit, or a relative change (0.2 = +20%) when ``relative``."""
    threshold_text: str
    relative: bool = False
    for_seconds: float | None = None
    """Plan seconds a breach must last to fire; None fires on the first breaching evaluation."""
    severity: str = "immediate"
    test: str = "threshold"
    """How the gate judges: ``threshold`` (value vs limit), ``sequential`` (anytime-valid test),
    ``mann-whitney``, or ``event``: any occurrence of the event named by ``metric`` fires it, with no
    minimum sample."""
    alpha: float | None = None
    """Sequential judges: this gate's share of the release's false-rollback budget (analysis.alpha)."""
    source: str = "target"
    """Where the gate's figures come from: ``target`` (the metrics source) or ``loadtest`` (the results of
    the stage's load test)."""
    against: str = "stable"
    """The version a relative gate compares the canary with: ``stable`` (the warm fleet) or ``baseline``
    (the same-age baseline, a fresh copy of the stable version started with the canary)."""


@dataclass(frozen=True)
class Analysis:
    interval: float = 60.0
    window: float = 300.0
    min_requests: int = 100
    alpha: float = 0.01
    max_inconclusive: int = 3
    hold_timeout: float = 1800.0
    warmup: float = 0.0
    """Plan seconds from the start during which latency gates are not judged: a freshly started
    canary is slower than a fleet that has been serving for hours (cold caches, JIT), and no
    judge can tell that apart from a regression without a baseline of the same age. Errors are
    judged from the first request: a canary failing requests while it warms up hurts users."""
    baseline: str = "stable"
    """``stable``: relative gates compare with the stable fleet. ``same-age``: a third version, the stable
    version started fresh with the canary, serves the canary's weight out of the stable share, and gates
    that say ``vs: baseline`` compare with it (``Policy.baseline_weight``)."""


@dataclass(frozen=True)
class DecisionPolicy:
    """How a person decides after an ``urgent`` or ``conditional`` gate fires."""

    window: float
    authority: tuple[str, ...]
    default: str
    """What happens when nobody decides in time: ``rollback``, ``hold`` or ``continue``."""


@dataclass(frozen=True)
class Policy:
    stages: tuple[Stage, ...]
    analysis: Analysis = Analysis()
    gates: tuple[Gate, ...] = ()
    auto_rollback: bool = True
    urgent: DecisionPolicy | None = None
    conditional: DecisionPolicy | None = None
    roles: dict[str, frozenset[str]] = field(default_factory=dict)
    rollback_authority: tuple[str, ...] | None = None
    """Guard rails (autonomy tier 1 or 2, or an emergency override): a gate that would roll back opens a
    decision window for these roles instead (default ``hold`` after ``analysis.holdTimeout``); a person
    rolls back. None: gates act as the plan says."""

    def baseline_weight(self, weight: float) -> float:
        """The same-age baseline's share (percent) while the canary has ``weight``: the canary's own,
        out of the stable share, while the canary is below 100% (plans keep such stages at 50% or less);
        0 without a same-age baseline, before the canary starts, and at 100% (promoted, or the last stage)."""
        if self.analysis.baseline != "same-age" or not 0 < weight < 100:
            return 0.0
        return min(weight, 100.0 - weight)

    def stable_weight(self, weight: float) -> float:
        """The stable fleet's share (percent) while the canary has ``weight``."""
        return max(0.0, 100.0 - weight - self.baseline_weight(weight))

    def decision_policy(self, severity: str) -> DecisionPolicy | None:
        return self.urgent if severity == "urgent" else self.conditional if severity == "conditional" else None
