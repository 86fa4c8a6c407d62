"""The judge a plan gets without `analysis.method`, on the A/A case that fooled the threshold judge.

Issue 16: two healthy versions at 0.1% errors, `error_rate > +50% vs baseline for 3m`, no method, were
rolled back three times out of three, each time on a ratio of a handful of errors. Here the engine is
fed seeded request counts of that size (windows of about a thousand requests, so about one error per
window) for whole releases, with the plan compiled as written and with `method: threshold`.
"""

from __future__ import annotations

import numpy as np

from launchdeck.core import engine
from launchdeck.core.engine import Inputs, Observations
from launchdeck.core.observation import WindowStats
from launchdeck.core.policy import Policy
from launchdeck.core.state import ReleaseState
from launchdeck.plan import to_policy
from launchdeck.plan.model import ReleaseSpec

REQUESTS_PER_SLICE = 300  # per 30 s of plan time, both versions together; a window holds 4 slices
WINDOW_SLICES = 4


def plan_policy(method: str | None = None) -> Policy:
    analysis = {"interval": "30s", "window": "2m", "minRequests": 100} | ({"method": method} if method else {})
    return to_policy(ReleaseSpec.model_validate({
        "stages": [{"weight": "20%", "hold": "4m"}, {"weight": "50%", "hold": "4m"}, {"weight": "100%", "hold": "4m"}],
        "analysis": analysis,
        "gates": [{"name": "errors", "metric": "error_rate", "op": ">", "threshold": "+50%", "vs": "baseline",
                   "for": "3m", "severity": "immediate"}],
    }))


def release_outcome(policy: Policy, seed: int, canary_rate: float, stable_rate: float = 0.001) -> str:
    """Play one release: every 30 s, Poisson requests split by the current weight, binomial errors."""
    rng = np.random.default_rng(seed)
    state = engine.decide(policy, ReleaseState(), 0.0).state
    slices: list[tuple[WindowStats, WindowStats]] = []
    now = 0.0
    while state.phase not in ("done", "rolling_back"):
        assert now < 3600, "the release should end within its stages"
        now += 30
        share = state.weight / 100
        n_c, n_s = rng.poisson(REQUESTS_PER_SLICE * share), rng.poisson(REQUESTS_PER_SLICE * (1 - share))
        canary = WindowStats("canary", n_c, int(rng.binomial(n_c, canary_rate)), 30, share)
        stable = WindowStats("stable", n_s, int(rng.binomial(n_s, stable_rate)), 30, 1 - share)
        slices.append((canary, stable))
        c_window, s_window = slices[-WINDOW_SLICES:][0]
        for c, s in slices[-WINDOW_SLICES:][1:]:
            c_window, s_window = c_window.merged(c), s_window.merged(s)
        obs = Observations(c_window, s_window, canary, stable)
        state = engine.decide(policy, state, now, Inputs(observations=obs)).state
    assert state.outcome is not None
    return state.outcome


def test_without_a_method_a_gate_vs_baseline_is_judged_sequentially() -> None:
    assert plan_policy().gates[0].test == "sequential"
    assert plan_policy("threshold").gates[0].test == "threshold"


def test_the_default_keeps_healthy_canaries_the_threshold_judge_rolls_back() -> None:
    releases = range(60)
    by_threshold = [release_outcome(plan_policy("threshold"), seed, canary_rate=0.001) for seed in releases]
    by_default = [release_outcome(plan_policy(), seed, canary_rate=0.001) for seed in releases]
    # The same counts: the threshold judge rolls back a healthy canary in about a quarter of releases...
    assert by_threshold.count("rolled_back") >= 6, by_threshold
    # ...the sequential judge within its false-rollback budget (analysis.alpha, 1%).
    assert by_default.count("rolled_back") <= 1, by_default


def test_the_default_still_rolls_back_a_real_regression() -> None:
    outcomes = [release_outcome(plan_policy(), seed, canary_rate=0.03) for seed in range(20)]
    assert outcomes == ["rolled_back"] * 20
