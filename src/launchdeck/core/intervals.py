"""Per-version estimates with their 95% intervals, for verdicts people read.

A sequential verdict says *whether* the evidence is enough; these say *how big* each version's
figure is and how sure we are of it, over the window the verdict shows:

* a rate (errors over requests): the exact Clopper-Pearson interval;
* a latency quantile read from a log-spaced histogram: the distribution-free order-statistic
  interval, the ranks l and u with P(X_(l) <= q-quantile <= X_(u)) >= 95% for any continuous
  distribution (ranks from Binomial(n, q)), read back as bucket values.

These are fixed-sample intervals over one window, labelled as such; the firing decision itself
comes from the anytime-valid e-value, never from them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import stats

from launchdeck.core.sketch import LatencyHistogram, bucket_mid_ms

LEVEL = 0.95


@dataclass(frozen=True)
class Estimate:
    value: float
    low: float
    high: float

    def to_json(self) -> list[float]:
        return [self.value, self.low, self.high]


def rate(events: int, trials: int, level: float = LEVEL) -> Estimate | None:
    """events / trials with its exact (Clopper-Pearson) interval; None without trials."""
    if trials <= 0:
        return None
    tail = (1.0 - level) / 2
    low = 0.0 if events == 0 else float(stats.beta.ppf(tail, events, trials - events + 1))
    high = 1.0 if events == trials else float(stats.beta.ppf(1 - tail, events + 1, trials - events))
    return Estimate(events / trials, low, high)


def quantile(hist: LatencyHistogram, q: float, level: float = LEVEL) -> Estimate | None:
    """The q-quantile of a histogram with its order-statistic interval; None when empty.

    With too few samples for a two-sided interval the missing side is open: 0 below, infinity
    above (with 30 samples nothing bounds the p95 from above at 95%: all 30 may lie below it)."""
    n = hist.total
    value = hist.quantile(q)
    if n == 0 or value is None:
        return None
    tail = (1.0 - level) / 2
    # With B ~ Binomial(n, q): P(X_(l) <= x_q) = P(B >= l) and P(X_(u) >= x_q) = P(B <= u - 1).
    # The largest l with P(B >= l) >= 1 - tail is B's tail-quantile; the smallest such u is one
    # more than its (1 - tail)-quantile.
    lo_rank = int(stats.binom.ppf(tail, n, q))
    hi_rank = int(stats.binom.ppf(1 - tail, n, q)) + 1
    ranked = sorted(hist.counts.items())
    low = _at_rank(ranked, lo_rank) if lo_rank >= 1 else 0.0
    high = _at_rank(ranked, hi_rank) if hi_rank <= n else math.inf
    return Estimate(value, low, high)


def _at_rank(ranked: list[tuple[int, int]], rank: int) -> float:
    seen = 0
    for bucket, count in ranked:
        seen += count
        if seen >= rank:
            return bucket_mid_ms(bucket)
    return bucket_mid_ms(ranked[-1][0])
