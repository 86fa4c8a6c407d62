"""What a relative gate compares the canary with at one evaluation: the stable fleet, or the same-age
baseline (a fresh copy of the stable version started with the canary, ``analysis.baseline: same-age``).

For each side the engine keeps three things between evaluations:

* its last well-fed window: the sequential latency judge's yardstick, a quantile from an *earlier*
  window, so the reference never depends on the slice being judged. Until the same-age baseline has
  one (its first window), the stable fleet's serves: any threshold fixed before the slice keeps the
  test valid (under the null, no threshold makes a slow request likelier to come from the canary),
  and judging latency from the first slice spares the release a window of blindness;
* its counts summed over the current stage;
* those counts frozen once they reach ``minRequests`` while the side still serves traffic. When it
  serves nothing (the stable fleet at 100%, or at 50% beside a same-age baseline; the baseline at
  100%), its window holds only the tail of the stage before, and gates compare with the frozen counts
  instead: a whole stage of traffic, never one thin window.

Pure: the shares come from the policy, the counts from the observations.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from launchdeck.core.observation import WindowStats
from launchdeck.core.policy import Policy
from launchdeck.core.state import ReleaseState


@dataclass(frozen=True)
class Side:
    """One version the canary is compared with, over one evaluation."""

    name: str
    """``stable`` or ``baseline``: the word the reasons use for it."""
    window: WindowStats
    """The analysis window, or the counts frozen at cut-over once the side serves nothing."""
    slice: WindowStats
    """The counts since the previous evaluation (what sequential evidence is built from)."""
    reference: WindowStats | None
    """The side's previous well-fed window: the sequential latency judge's yardstick."""
    total: int
    """The side's requests so far in the release."""
    note: str = ""
    """Said in threshold reasons when the window is the frozen counts."""
    serving: bool = True
    """Whether the side serves traffic at the current weight. When it does not, its slice holds only
    stragglers from before cut-over, and no slice is evidence about the canary beside it."""


def observe(policy: Policy, state: ReleaseState, stable: WindowStats, stable_slice: WindowStats,
            baseline: WindowStats | None = None, baseline_slice: WindowStats | None = None,
            ) -> tuple[ReleaseState, dict[str, Side]]:
    """The state with each side's new counts, and the sides gates compare with (``baseline`` only when
    the same-age baseline was observed)."""
    a, s = policy.analysis, state
    stable_reference = s.baseline
    serving = policy.stable_weight(s.weight) > 0
    in_stage, frozen = _counted(s.stable_in_stage, s.frozen_baseline, stable_slice, serving, a.min_requests)
    sides = {"stable": _side("stable", stable, stable_slice, s.baseline, frozen, s.stable_total + stable_slice.requests,
                             serving)}
    s = replace(s, stable_total=s.stable_total + stable_slice.requests, stable_in_stage=in_stage,
                frozen_baseline=frozen, baseline=stable if stable.requests >= a.min_requests else s.baseline)
    if baseline is None or baseline_slice is None:
        return s, sides
    serving = policy.baseline_weight(s.weight) > 0
    in_stage, frozen = _counted(s.same_age_in_stage, s.same_age_frozen, baseline_slice, serving, a.min_requests)
    total = s.baseline_total + baseline_slice.requests
    reference = s.same_age_reference or stable_reference
    sides["baseline"] = _side("baseline", baseline, baseline_slice, reference, frozen, total, serving)
    s = replace(s, baseline_total=total, same_age_in_stage=in_stage, same_age_frozen=frozen,
                same_age_reference=baseline if baseline.requests >= a.min_requests else s.same_age_reference)
    return s, sides


def _counted(in_stage: WindowStats | None, frozen: WindowStats | None, new: WindowStats, serving: bool,
             min_requests: int) -> tuple[WindowStats, WindowStats | None]:
    """Add a side's new counts to the stage's; while it serves traffic, once they reach minRequests they
    become its counts frozen for cut-over. A whole stage, not one window: at high time scales a window
    holds a hundred requests and a 0.1% error rate shows as 0% or 0.5%."""
    in_stage = in_stage.merged(new) if in_stage is not None else new
    if serving and in_stage.requests >= max(min_requests, 1):
        frozen = in_stage
    return in_stage, frozen


def _side(name: str, window: WindowStats, slice_: WindowStats, reference: WindowStats | None,
          frozen: WindowStats | None, total: int, serving: bool) -> Side:
    if not serving and frozen is not None and frozen.requests > window.requests:
        return Side(name, frozen, slice_, reference, total,
                    f", baseline frozen at cut-over from {frozen.requests} {name} requests", serving=False)
    return Side(name, window, slice_, reference, total, serving=serving)
