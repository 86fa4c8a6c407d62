"""Per-version estimates with 95% intervals: exact where SciPy has the reference, covering by simulation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from launchdeck.core import intervals, judges
from launchdeck.core.observation import WindowStats
from launchdeck.core.policy import Gate
from launchdeck.core.sequential import Evidence
from launchdeck.core.sketch import LatencyHistogram, bucket_mid_ms


@pytest.mark.parametrize(("k", "n"), [(0, 40), (3, 200), (21, 1000), (50, 50)])
def test_rate_interval_is_scipys_exact_clopper_pearson(k: int, n: int) -> None:
    est = intervals.rate(k, n)
    ref = stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="exact")
    assert est is not None and est.value == k / n
    assert est.low == pytest.approx(ref.low, abs=1e-12) and est.high == pytest.approx(ref.high, abs=1e-12)


def test_no_requests_gives_no_estimate() -> None:
    assert intervals.rate(0, 0) is None and intervals.quantile(LatencyHistogram(), 0.95) is None


@pytest.mark.parametrize("n", [30, 300, 3000])
def test_quantile_interval_covers_the_true_p95_at_least_95_percent_of_the_time(n: int) -> None:
    # Lognormal latencies with a known p95 of 120 ms; 400 windows: coverage below 92% would be
    # a 3-sigma failure of a 95% interval.
    rng = np.random.default_rng(n)
    sigma = np.log(3) / stats.norm.ppf(0.95)
    covered = 0
    for _ in range(400):
        sample = np.exp(np.log(40) + sigma * rng.standard_normal(n))
        est = intervals.quantile(LatencyHistogram.of(list(sample)), 0.95)
        assert est is not None and est.low <= est.value <= est.high  # high is inf when n is too small
        covered += est.low <= 120.0 * 1.02 and est.high >= 120.0 / 1.02  # within the histogram's resolution
    assert covered / 400 >= 0.92


@pytest.mark.parametrize("q", [0.5, 0.95, 0.99])
def test_quantile_interval_ranks_are_scipys_binomial_quantiles(q: float) -> None:
    # One sample per bucket, so the interval's ends name their ranks: l = Binomial(n, q)'s 2.5%
    # quantile and u = its 97.5% quantile + 1, as scipy.stats.binom.ppf gives them.
    for n in [*range(1, 300), 1000, 4321, 15000]:
        est = intervals.quantile(LatencyHistogram({rank: 1 for rank in range(1, n + 1)}), q)
        lo_rank, hi_rank = int(stats.binom.ppf(0.025, n, q)), int(stats.binom.ppf(0.975, n, q)) + 1
        assert est is not None, n
        assert est.low == (bucket_mid_ms(lo_rank) if lo_rank >= 1 else 0.0), n
        assert est.high == (bucket_mid_ms(hi_rank) if hi_rank <= n else math.inf), n


def test_small_samples_leave_the_lower_side_open() -> None:
    est = intervals.quantile(LatencyHistogram.of([10.0, 20.0, 30.0]), 0.5)
    assert est is not None and est.low == 0.0 and est.high > 20.0


def test_sequential_verdict_names_each_versions_figure_with_its_interval() -> None:
    gate = Gate("err", "error_rate", ">", 0.0, "+0%", relative=True, severity="urgent", test="sequential")
    canary, stable = WindowStats("canary", 1000, 30, 60.0, 0.1), WindowStats("stable", 9000, 9, 60.0, 0.9)
    evidence = judges.sequential_update(gate, Evidence(), canary, stable)
    v = judges.sequential(gate, evidence, canary, stable, alpha=0.01, min_requests=50, canary_total=1000,
                          baseline_total=9000)
    assert v.status == "breach"
    assert v.canary_interval is not None and v.canary_interval[0] < 0.03 < v.canary_interval[1]
    assert v.baseline_interval is not None and v.baseline_interval[0] < 0.001 < v.baseline_interval[1]
    assert "canary 3.00% (95% CI 2.03%–4.26%) vs stable 0.10% (95% CI 0.05%–0.19%)" in v.reason
    assert v.to_json()["canary_interval"] == list(v.canary_interval)


def test_an_open_interval_side_is_written_as_null_not_infinity() -> None:
    gate = Gate("p95", "latency_p95_ms", ">", 0.0, "+0%", relative=True, test="sequential")
    canary = WindowStats("canary", 20, 0, 60.0, 0.1, latency=LatencyHistogram.of([40.0 + i for i in range(20)]))
    v = judges.sequential(gate, Evidence(), canary, None, alpha=0.01, min_requests=10, canary_total=20, baseline_total=0)
    assert v.canary_interval is not None and v.canary_interval[1] == float("inf")
    assert v.to_json()["canary_interval"][1] is None and "too few requests to bound it above" in v.reason
