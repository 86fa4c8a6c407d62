"""What a tenant's guard does when a rail breaks: pause promotions, shrink canaries, or call a hook.

The policy names the action and whether it is taken at once (``automatic``) or only after an admin
approves it. Paused releases hold at their weight; shrunk ones go back to their first stage's weight;
a hook is a command the edge runs. A breach that is not an alert's page level only notifies.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["pause", "shrink", "hook", "none"]


@dataclass(frozen=True)
class EnforcementRule:
    action: Kind = "pause"
    automatic: bool = True
    on: Literal["page", "any"] = "page"
    """Act on paging alerts only (default), or on every alert."""


@dataclass(frozen=True)
class Enforcement:
    action: Kind
    take_now: bool
    """False: it waits for an approval (``budget protect``)."""
    reason: str


def decide(rule: EnforcementRule, *, alerts: tuple[tuple[bool, str], ...], approved: bool = False) -> Enforcement:
    """``alerts``: each raised alert as (pages, reason). Returns the action to take or to ask for."""
    relevant = [reason for page, reason in alerts if page or rule.on == "any"]
    if not relevant or rule.action == "none":
        return Enforcement("none", False, "no alert calls for action" if not relevant else
                           "the policy takes no action: " + relevant[0])
    why = "; ".join(relevant)
    if rule.automatic or approved:
        return Enforcement(rule.action, True, f"{rule.action} ({'automatic' if rule.automatic else 'approved'}): {why}")
    return Enforcement(rule.action, False, f"{rule.action} waits for an admin's approval "
                                           f"(launchdeck budget protect): {why}")


def shrink_weight(first_stage_weight: float, current_weight: float) -> float:
    """A shrunk canary goes back to its first step, never up."""
    return min(first_stage_weight, current_weight)
