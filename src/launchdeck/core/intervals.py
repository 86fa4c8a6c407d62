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

from scipy import special

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
    low = 0.0 if events == 0 else float(special.betaincinv(events, trials - events + 1, tail))
    high = 1.0 if events == trials else float(special.betaincinv(events + 1, trials - events, 1 - tail))
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
    lo_rank = _binomial_quantile(tail, n, q)
    hi_rank = _binomial_quantile(1 - tail, n, q) + 1
    ranked = sorted(hist.counts.items())
    low = _at_rank(ranked, lo_rank) if lo_rank >= 1 else 0.0
    high = _at_rank(ranked, hi_rank) if hi_rank <= n else math.inf
    return Estimate(value, low, high)


def _binomial_quantile(level: float, n: int, success: float) -> int:
    """The smallest k with P(Binomial(n, success) <= k) >= level: scipy.stats.binom.ppf's answer, from
    scipy.special (which loads in a third of the time scipy.stats takes, paid by every `run`)."""
    k = math.ceil(special.bdtrik(level, n, success))
    below = max(k - 1, 0)
    return below if special.bdtr(below, n, success) >= level else k


def _at_rank(ranked: list[tuple[int, int]], rank: int) -> float:
    seen = 0
    for bucket, count in ranked:
        seen += count
        if seen >= rank:
            return bucket_mid_ms(bucket)
    return bucket_mid_ms(ranked[-1][0])
