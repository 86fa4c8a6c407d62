"""The benchmark's detectors: the exact conditional test the fixed-horizon detectors use."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from launchdeck.bench import detectors


def test_share_test_is_the_exact_binomial_tail() -> None:
    p = detectors.share_test_greater(np.array([3, 0, 5]), np.array([10, 4, 0]), np.array([100, 100, 50]),
                             np.array([900, 900, 950]))
    assert p[0] == pytest.approx(stats.binom.sf(2, 13, 0.1))
    assert p[1] == 1.0
    assert p[2] == pytest.approx(0.05**5)
