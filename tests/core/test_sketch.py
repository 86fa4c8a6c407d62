from __future__ import annotations

import numpy as np

from launchdeck.core.sketch import LatencyHistogram


def test_quantiles_are_within_two_percent_of_exact() -> None:
    values = np.random.default_rng(1).lognormal(np.log(40), 0.6, 20_000)
    h = LatencyHistogram.of(values.tolist())
    for q in (0.5, 0.95, 0.99):
        exact = float(np.quantile(values, q))
        assert abs(h.quantile(q) - exact) / exact < 0.03  # type: ignore[operator]


def test_merging_equals_building_from_all_samples() -> None:
    a, b = [1.0, 5.0, 40.0], [40.0, 300.0]
    assert LatencyHistogram.of(a).merge(LatencyHistogram.of(b)) == LatencyHistogram.of(a + b)


def test_empty_histogram_has_no_quantile() -> None:
    assert LatencyHistogram().quantile(0.95) is None
