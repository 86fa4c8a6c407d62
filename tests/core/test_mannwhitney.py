"""The Mann-Whitney judge against SciPy on exact small cases, and its verdicts."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import mannwhitneyu

from launchdeck.core import mannwhitney
from launchdeck.core.observation import WindowStats
from launchdeck.core.policy import Gate
from launchdeck.core.sketch import LatencyHistogram, bucket_of


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_u_and_p_match_scipy_on_bucketed_samples(seed: int) -> None:
    rng = np.random.default_rng(seed)
    canary = rng.lognormal(np.log(45), 0.5, 40)
    stable = rng.lognormal(np.log(40), 0.5, 60)
    # SciPy sees the same bucketed values the histogram holds (ties within a bucket).
    c_b, s_b = [bucket_of(x) for x in canary], [bucket_of(x) for x in stable]
    expected = mannwhitneyu(c_b, s_b, alternative="greater", method="asymptotic", use_continuity=False)
    u, p = mannwhitney.u_test(LatencyHistogram.of(list(canary)).counts, LatencyHistogram.of(list(stable)).counts)
    assert u == pytest.approx(expected.statistic) and p == pytest.approx(expected.pvalue, rel=1e-9)


def test_clearly_slower_canary_breaches_a_relative_latency_gate() -> None:
    rng = np.random.default_rng(5)
    gate = Gate("p95", "latency_p95_ms", ">", 0.2, "+20%", relative=True, test="mann-whitney")
    canary = WindowStats("canary", 300, 0, 60, 0.1, LatencyHistogram.of(list(rng.lognormal(np.log(80), 0.5, 300))))
    stable = WindowStats("stable", 2000, 0, 60, 0.9, LatencyHistogram.of(list(rng.lognormal(np.log(40), 0.5, 2000))))
    v = mannwhitney.judge(gate, canary, stable, alpha=0.01, min_requests=50)
    assert v.status == "breach" and "Mann-Whitney" in v.reason


def test_same_distribution_passes_and_thin_data_is_inconclusive() -> None:
    rng = np.random.default_rng(6)
    gate = Gate("p95", "latency_p95_ms", ">", 0.2, "+20%", relative=True, test="mann-whitney")
    canary = WindowStats("canary", 300, 0, 60, 0.1, LatencyHistogram.of(list(rng.lognormal(np.log(40), 0.5, 300))))
    stable = WindowStats("stable", 2000, 0, 60, 0.9, LatencyHistogram.of(list(rng.lognormal(np.log(40), 0.5, 2000))))
    assert mannwhitney.judge(gate, canary, stable, alpha=0.01, min_requests=50).status == "pass"
    thin = WindowStats("canary", 10, 0, 60, 0.1)
    assert mannwhitney.judge(gate, thin, stable, alpha=0.01, min_requests=50).status == "inconclusive"
