"""Autonomy tiers and a tenant's safety figures.

Tier 1: launchdeck recommends; a person acts on every stage and every rollback. Tier 2: it promotes
on its own and asks a person before rolling back. Tier 3: it acts alone within the guard rails. An
emergency override holds every autonomous action of the tenant (people can still act). Safety is
measured over a rolling 24 h and 30 d: the success rate, the compensation (rollback) rate and the
escalations, against the policy's targets; a breach drops the tenant one tier.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Action = Literal["promote", "rollback"]
DAY = 86400.0
WINDOWS = (("24h", DAY), ("30d", 30 * DAY))


@dataclass(frozen=True)
class Permission:
    """May launchdeck take ``action`` alone? If not, it waits for a person (``person_needed``)."""

    alone: bool
    reason: str

    @property
    def person_needed(self) -> bool:
        return not self.alone


def permission(tier: int, action: Action, *, override_until: float | None = None, now: float = 0.0) -> Permission:
    if override_until is not None and now < override_until:
        return Permission(False, f"an emergency override holds every autonomous action of the tenant for "
                                 f"{(override_until - now) / 60:.0f} more min; a person may {action}")
    if tier >= 3:
        return Permission(True, f"tier {tier}: launchdeck acts alone within the guard rails")
    if tier == 2:
        if action == "promote":
            return Permission(True, "tier 2: launchdeck promotes on its own")
        return Permission(False, "tier 2: launchdeck asks a person before rolling back")
    return Permission(False, f"tier 1: launchdeck recommends; a person decides each {action}")


@dataclass(frozen=True)
class Outcome:
    """One finished release of the tenant: when it finished, and how."""

    at: float
    succeeded: bool
    compensated: bool
    """It was rolled back (its change compensated)."""
    escalations: int = 0


@dataclass(frozen=True)
class SafetyTargets:
    min_success: float = 0.999
    max_compensation: float = 0.005
    max_escalations_24h: int | None = None


@dataclass(frozen=True)
class SafetyFigures:
    window: str
    releases: int
    success_rate: float | None
    compensation_rate: float | None
    escalations: int
    breaches: tuple[str, ...]


def safety(outcomes: tuple[Outcome, ...], *, now: float, targets: SafetyTargets) -> tuple[SafetyFigures, ...]:
    """The figures for each rolling window, with what breaches the targets (no release: no breach)."""
    figures = []
    for name, span in WINDOWS:
        inside = [o for o in outcomes if now - span < o.at <= now]
        n = len(inside)
        success = sum(o.succeeded for o in inside) / n if n else None
        compensation = sum(o.compensated for o in inside) / n if n else None
        escalations = sum(o.escalations for o in inside)
        breaches = []
        if success is not None and success < targets.min_success:
            breaches.append(f"success {success:.2%} over {name} is under the target {targets.min_success:.2%}")
        if compensation is not None and compensation > targets.max_compensation:
            breaches.append(f"compensation {compensation:.2%} over {name} is over the target "
                            f"{targets.max_compensation:.2%}")
        if (name == "24h" and targets.max_escalations_24h is not None
                and escalations > targets.max_escalations_24h):
            breaches.append(f"{escalations} escalations over 24h, more than the target {targets.max_escalations_24h}")
        figures.append(SafetyFigures(name, n, success, compensation, escalations, tuple(breaches)))
    return tuple(figures)


@dataclass(frozen=True)
class TierDecision:
    tier: int
    changed: bool
    reason: str


def next_tier(current: int, figures: tuple[SafetyFigures, ...]) -> TierDecision:
    """One tier down on any breach (never below 1); otherwise the tier stays. Raising a tier is a
    person's decision (the policy's ``autonomy.tier``), never automatic."""
    breaches = [b for f in figures for b in f.breaches]
    if not breaches:
        return TierDecision(current, False, f"tier {current}: safety within targets")
    if current <= 1:
        return TierDecision(1, False, "tier 1 already: " + "; ".join(breaches))
    return TierDecision(current - 1, True, f"tier {current} -> {current - 1}: " + "; ".join(breaches))
