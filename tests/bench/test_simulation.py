"""The benchmark's simulation: its shortcuts (order statistics, mixtures over warm-up, the Mann-Whitney
statistic's moments) match what simulating every request would give."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import special, stats

from launchdeck.bench import detectors, simulation as S


def test_order_statistic_draw_matches_the_quantile_of_real_samples() -> None:
    rng = np.random.default_rng(1)
    n, reps = 200, 20000
    real = np.quantile(np.exp(S.MU + S.SIGMA * rng.standard_normal((reps, n))), 0.95, axis=1, method="inverted_cdf")
    drawn = S.order_statistic_quantile(rng, np.full(reps, n), 0.95)
    se = math.sqrt(real.var() / reps + drawn.var() / reps)
    assert abs(real.mean() - drawn.mean()) < 4 * se
    assert drawn.std() == pytest.approx(real.std(), rel=0.05)
    assert stats.ks_2samp(real, drawn).pvalue > 1e-3


def test_mixture_quantile_matches_real_samples_during_warm_up() -> None:
    scn = S.SCENARIOS["aa-robust"]
    window = S.window_of(scn, 0, 60)
    rng = np.random.default_rng(2)
    n, reps = 60, 20000
    seconds = rng.choice(60, size=(reps, n), p=window.weights)
    samples = np.exp(S.MU + window.shifts[seconds] + S.SIGMA * rng.standard_normal((reps, n)))
    real = np.quantile(samples, 0.95, axis=1, method="inverted_cdf")
    k = math.ceil(0.95 * n)
    drawn = window.ppf_ms(rng.beta(k, n - k + 1, size=reps))
    se = math.sqrt(real.var() / reps + drawn.var() / reps)
    assert abs(real.mean() - drawn.mean()) < 4 * se
    assert stats.ks_2samp(real, drawn).pvalue > 1e-3


def test_mann_whitney_moments_match_closed_form_and_real_statistics() -> None:
    shift = math.log(1.2)
    window = S.Window(np.array([shift]), np.array([1.0]), S.SIGMA)
    auc, p_ccs, p_css = window.mann_whitney_moments()
    assert auc == pytest.approx(special.ndtr(shift / (S.SIGMA * math.sqrt(2))), abs=1e-9)
    # Same distributions through the quadrature (not the A/A shortcut): 1/2, 1/3, 1/3.
    same = S.Window(np.array([0.0, 1e-6]), np.array([0.5, 0.5]), S.SIGMA).mann_whitney_moments()
    assert same == pytest.approx((0.5, 1 / 3, 1 / 3), abs=1e-5)

    rng = np.random.default_rng(3)
    n_c, n_s, reps = 30, 200, 4000
    x_c = np.exp(S.MU + shift + S.SIGMA * rng.standard_normal((reps, n_c, 1)))
    x_s = np.exp(S.MU + S.SIGMA * rng.standard_normal((reps, 1, n_s)))
    u_real = (x_c > x_s).sum(axis=(1, 2))
    mean = n_c * n_s * auc
    var = n_c * n_s * (auc * (1 - auc) + (n_c - 1) * (p_ccs - auc**2) + (n_s - 1) * (p_css - auc**2))
    assert u_real.mean() == pytest.approx(mean, abs=4 * math.sqrt(var / reps))
    assert u_real.var() == pytest.approx(var, rel=0.08)
    z_real = (u_real - n_c * n_s / 2) / math.sqrt(n_c * n_s * (n_c + n_s + 1) / 12)
    z_drawn = detectors.mann_whitney_z(rng, np.full(reps, n_c), np.full(reps, n_s), (auc, p_ccs, p_css))
    assert (z_drawn > detectors.Z_ALPHA).mean() == pytest.approx((z_real > detectors.Z_ALPHA).mean(), abs=0.03)


def test_the_same_age_baseline_warms_up_like_the_canary_and_shares_none_of_its_effect() -> None:
    robust = S.Context.make(S.SCENARIOS["aa-robust"], 100, 600)
    assert np.array_equal(robust.baseline_shift, robust.shift) and robust.baseline_shift[0] == pytest.approx(math.log(1.5))
    slower = S.Context.make(S.SCENARIOS["p95+20"], 100, 600)
    assert not slower.baseline_shift.any() and slower.shift[0] == pytest.approx(math.log(1.2))
    assert slower.oracle_slow_ratio[0] == pytest.approx(slower.oracle_slow[0] / S.SLOW_BASE)


def test_the_baseline_streams_are_a_second_copy_of_stable_at_the_canarys_share() -> None:
    ctx = S.Context.make(S.SCENARIOS["aa"], 1000, 600)
    st = S.simulate(ctx, 200, np.random.default_rng(4))
    assert st.n_b.mean() == pytest.approx(st.n_c.mean(), rel=0.02)
    assert st.e_b.sum() / st.n_b.sum() == pytest.approx(S.BASE_ERROR, rel=0.1)
    # Against the baseline's own p95 (the fleet's in the first minute), about 5% of each side is slow.
    for slow, n in ((st.slow_cb, st.n_c), (st.slow_b, st.n_b)):
        assert slow.sum() / n.sum() == pytest.approx(S.SLOW_BASE, rel=0.1)
    seen = st.against_baseline()
    assert seen.n_s is st.n_b and seen.slow_s is st.slow_b and seen.slow_c is st.slow_cb
