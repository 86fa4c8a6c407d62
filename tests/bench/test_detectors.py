"""The benchmark's detectors: the exact conditional test the fixed-horizon detectors use, and the same-age
error gate's design effect."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from launchdeck.bench import detectors
from launchdeck.bench.simulation import SCENARIOS, Context, simulate
from launchdeck.core.sequential import Evidence


def test_share_test_is_the_exact_binomial_tail() -> None:
    p = detectors.share_test_greater(np.array([3, 0, 5]), np.array([10, 4, 0]), np.array([100, 100, 50]),
                             np.array([900, 900, 950]))
    assert p[0] == pytest.approx(stats.binom.sf(2, 13, 0.1))
    assert p[1] == 1.0
    assert p[2] == pytest.approx(0.05**5)


def test_the_benchmarks_design_effect_is_the_products_second_by_second() -> None:
    # Bursty errors (a factor per minute) at 1000 rps: the vectorised design effect the benchmark divides
    # the same-age error gate's increments by equals the one Evidence.add computes slice by slice.
    rng = np.random.default_rng(3)
    T = 600
    n_c, n_b = rng.poisson(50, (1, T)), rng.poisson(50, (1, T))
    factor = np.repeat(np.exp(0.3 * rng.standard_normal((2, T // 60))), 60, axis=1)
    e_c, e_b = rng.binomial(n_c, 0.001 * factor[0]), rng.binomial(n_b, 0.001 * factor[1])
    bench = detectors.design_effects(e_c, e_b, n_c, n_b, 1.0, 0.3)[0]
    ev, product = Evidence(), []
    for t in range(T):
        ev = ev.add(int(e_c[0, t]), int(e_b[0, t]), int(n_c[0, t]), int(n_b[0, t]), 1.0,
                    forget=0.5 ** (1 / 60), wander=0.3)
        product.append(ev.design_effect)
    assert np.allclose(bench, product)
    assert bench.max() > 1.1


def test_the_same_age_error_gate_holds_its_false_rollbacks_when_both_instances_wander() -> None:
    # aa-robust at 1000 rps: canary and baseline each have their own per-minute error factor. Without the
    # discount the error gate alone rolls back about 2.2% at a 1% budget; with it, under 1%.
    ctx = Context.make(SCENARIOS["aa-robust"], 1000, 1800)
    rng = np.random.default_rng(5)
    st = simulate(ctx, 1000, rng).against_baseline()
    discounted = detectors.detect_sequential(st, ctx, rng, metrics=("errors",), error_wander=0.3)
    plain = detectors.detect_sequential(st, ctx, rng, metrics=("errors",))
    assert np.isfinite(discounted).sum() <= 10 < np.isfinite(plain).sum()
