"""Anytime-valid evidence that a canary's rate of bad events exceeds the allowed one.

The evidence of a sequential gate is an *e-process*: a nonnegative process that starts at 1 and,
while the canary is no worse than allowed, does not grow in expectation (a supermartingale). By
Ville's inequality it ever reaches 1/alpha with probability at most alpha, however often it is
looked at, which is what lets the gate be evaluated at every interval without the peeking problem.

Events are errors, or "slow" requests for latency gates. Two tests:

* relative (``vs: baseline``): given that an event happened in a slice where the canary had share
  q of the requests, it came from the canary with probability pi(theta) = q theta / (q theta + 1 - q),
  theta being the ratio of the canary's event rate to the baseline's. The null is theta <= theta0
  = 1 + threshold. Conditioning on each slice's share makes load swings and weight changes
  harmless.
* absolute: the canary's events out of its requests against a rate of at most p0.

The evidence averages two e-processes (an average of e-processes is one):

* the **mixture**: the likelihood ratio against theta0 averaged over a grid of alternatives
  (``MIXTURE``, 1.25x to 50x the null), accumulated from the gate's first slice; the fastest when
  the canary is bad from the start;
* the **plug-in**: each slice's likelihood ratio at the ratio estimated from the *recent* slices
  before it (exponentially forgotten, at least theta0). Because the estimate is fixed before the
  slice is seen, every factor has expectation at most 1 under the null. During a healthy stretch
  the mixture's large alternatives sink in proportion to their size (a 5x alternative loses
  evidence with every healthy slice), while the plug-in sinks only by the noise of its estimate,
  which sits at theta0 (a factor of exactly 1) whenever nothing points to an increase. So a
  regression that starts late (at a higher weight, after a cache expires) is caught nearly as
  fast as one that starts at once.

Each costs a factor of 2 of the other's strength (log 2 of evidence), the price of not knowing in
advance whether a regression starts at once or later.

**Over-dispersion** (relative test). Both likelihoods treat events as independent given the shares. A
single instance's errors are not: its error rate wanders (a bad cache node for a minute, a retry
storm), so the events of a window lean to one side together, and k events carry less information
than k independent ones. Against a same-age baseline, itself one instance, both sides wander, and
every increment multiplies the evidence's expectation by more than 1: the e-process leaks (at 1000
rps with a per-minute wander of 30% per instance, 1.2% false alarms at a 0.5% bound). So the evidence
measures the wander and discounts for it, as quasi-likelihood does: the events of each analysis
window (a *block*) are compared with the number the ratio estimated from everything before predicts
(Pearson residuals, ``centre_ratio``), and the ratio of their squared sum to the binomial variance,
shrunk toward 1 by ``DISPERSION_PRIOR`` (``design_effect``), is the *design effect* phi. Each
increment of log evidence is divided by the phi of the blocks before it. Since phi >= 1 and is fixed
before the slice, LR^(1/phi) has expectation at most E[LR]^(1/phi) <= 1 (Jensen): under independent
events the evidence stays exactly as valid as before, and when events come in bursts it is (to a
normal approximation) as valid as it would be for independent ones. A steady regression shows no
extra spread around its own ratio, so phi stays near 1 and detection barely slows; a sudden one
raises phi only after the block it starts in has closed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

#: Alternatives of the mixture, as multiples of the null value (rate ratio or rate).
MIXTURE = tuple(1.25 * (40.0 ** (i / 23)) for i in range(24))
_MIX = np.asarray(MIXTURE)
#: The plug-in's estimate starts from this many pseudo-events at the null, and stays below
#: PLUG_IN_MAX times the null.
PLUG_IN_PRIOR_EVENTS = 2.0
PLUG_IN_MAX = 50.0
#: The design effect starts at 1 with the weight of this much binomial variance (about 8 events at an
#: even split): a block or two of bursts is not yet taken for a wandering instance.
DISPERSION_PRIOR = 2.0
_LOG_HALF = math.log(0.5)
_BLOCK_END = 1.0 - 1e-9


def _pi(q: Any, theta: Any) -> Any:
    return q * theta / (q * theta + 1 - q)


def ratio_log_lr(e_c: Any, e_b: Any, q: Any, theta: Any, theta0: float) -> np.ndarray:
    """Log likelihood ratio of a slice's events at the rate ratio ``theta`` against ``theta0``.

    ``e_c``/``e_b``: events (errors, slow requests) from canary / baseline in a slice where the canary
    had share ``q`` of the requests. Broadcasts: the benchmark passes whole simulations at once, the
    mixture a grid of ``theta`` on the last axis. Slices with no traffic on either side contribute
    nothing."""
    e_c, e_b, q, theta = (np.asarray(a, dtype=float) for a in (e_c, e_b, q, theta))
    valid = (q > 0) & (q < 1)
    q = np.where(valid, q, 0.5)
    pi0, pi = _pi(q, theta0), _pi(q, theta)
    return np.where(valid, e_c * np.log(pi / pi0) + e_b * np.log((1 - pi) / (1 - pi0)), 0.0)


def rate_log_lr(e: Any, n: Any, p: Any, p0: float) -> np.ndarray:
    """Log likelihood ratio of ``e`` events in ``n`` trials at the rate ``p`` against ``p0``."""
    e, n, p = (np.asarray(a, dtype=float) for a in (e, n, p))
    return e * np.log(p / p0) + (n - e) * np.log((1 - p) / (1 - p0))


def rate_ratio_increment(e_c: Any, e_b: Any, q: Any, theta0: float) -> np.ndarray:
    """``ratio_log_lr`` at each mixture alternative (last axis)."""
    e_c, e_b, q = (np.asarray(x, dtype=float)[..., None] for x in (e_c, e_b, q))
    return ratio_log_lr(e_c, e_b, q, theta0 * _MIX, theta0)


def one_sample_increment(e: Any, n: Any, p0: float) -> np.ndarray:
    """``rate_log_lr`` at each mixture alternative (last axis), against a rate of at most p0."""
    e, n = (np.asarray(x, dtype=float)[..., None] for x in (e, n))
    return rate_log_lr(e, n, np.minimum(p0 * _MIX, 0.999999), p0)


def plug_in_ratio(x_c: Any, x_b: Any, n_c: Any, n_b: Any, theta0: float) -> np.ndarray:
    """The rate ratio estimated from recent counts (events x, requests n), shrunk toward theta0 by
    PLUG_IN_PRIOR_EVENTS pseudo-events and kept within [theta0, PLUG_IN_MAX x theta0]."""
    x_c, x_b, n_c, n_b = (np.asarray(a, dtype=float) for a in (x_c, x_b, n_c, n_b))
    q = np.clip(n_c / np.maximum(n_c + n_b, 1e-12), 1e-9, 1 - 1e-9)
    pi0 = _pi(q, theta0)
    ratio = (x_c + PLUG_IN_PRIOR_EVENTS * pi0) / (x_b + PLUG_IN_PRIOR_EVENTS * (1 - pi0)) * (1 - q) / q
    return np.clip(np.where(n_c + n_b > 0, ratio, theta0), theta0, PLUG_IN_MAX * theta0)


def plug_in_rate(x: Any, n: Any, p0: float) -> np.ndarray:
    """The one-sample counterpart of ``plug_in_ratio``: a recent rate, at least p0."""
    x, n = np.asarray(x, dtype=float), np.asarray(n, dtype=float)
    rate = (x + PLUG_IN_PRIOR_EVENTS) / (n + PLUG_IN_PRIOR_EVENTS / p0)
    return np.clip(rate, p0, min(PLUG_IN_MAX * p0, 0.999999))


def centre_ratio(t_c: Any, t_b: Any, m_c: Any, m_b: Any, theta0: float) -> np.ndarray:
    """The rate ratio estimated from all the counts before a slice (events t, requests m), shrunk toward
    theta0 by PLUG_IN_PRIOR_EVENTS pseudo-events: where the over-dispersion check expects each block's
    events to fall. Unlike the plug-in's, it may go below theta0 (it estimates, it does not bet)."""
    t_c, t_b, m_c, m_b = (np.asarray(a, dtype=float) for a in (t_c, t_b, m_c, m_b))
    q = np.clip(m_c / np.maximum(m_c + m_b, 1e-12), 1e-9, 1 - 1e-9)
    pi0 = _pi(q, theta0)
    ratio = (t_c + PLUG_IN_PRIOR_EVENTS * pi0) / (t_b + PLUG_IN_PRIOR_EVENTS * (1 - pi0)) * (1 - q) / q
    return np.clip(np.where(m_c + m_b > 0, ratio, theta0), theta0 / PLUG_IN_MAX, PLUG_IN_MAX * theta0)


def block_terms(e_c: Any, e_b: Any, q: Any, theta: Any) -> tuple[np.ndarray, np.ndarray]:
    """A slice's share of its block's Pearson residual (canary events minus those the ratio ``theta``
    predicts, given the slice's events and share ``q``) and of its binomial variance."""
    e_c, e_b, q, theta = (np.asarray(a, dtype=float) for a in (e_c, e_b, q, theta))
    pi = _pi(np.clip(q, 0.0, 1.0), theta)
    k = e_c + e_b
    return e_c - k * pi, k * pi * (1 - pi)


def design_effect(sum_r2: Any, sum_v: Any) -> np.ndarray:
    """phi: the closed blocks' squared residuals over their binomial variance, shrunk toward 1 by
    DISPERSION_PRIOR, never below 1."""
    sum_r2, sum_v = np.asarray(sum_r2, dtype=float), np.asarray(sum_v, dtype=float)
    return np.maximum(1.0, (DISPERSION_PRIOR + sum_r2) / (DISPERSION_PRIOR + sum_v))


def log_e_value(log_lr: Any) -> np.ndarray:
    """log of the mixture's e-value: the mean over alternatives of exp(log LR), computed stably."""
    a = np.asarray(log_lr, dtype=float)
    top = a.max(axis=-1)
    return top + np.log(np.exp(a - top[..., None]).mean(axis=-1))


def log_evidence(log_lr: Any, log_plug_in: Any) -> np.ndarray:
    """log of the gate's e-value: the average of the mixture's and the plug-in's."""
    return np.logaddexp(log_e_value(log_lr), np.asarray(log_plug_in, dtype=float)) + _LOG_HALF


@dataclass(frozen=True)
class Evidence:
    """A sequential gate's evidence so far, as kept in the release's state."""

    log_lr: tuple[float, ...] = ()
    """The mixture's log likelihood ratio per alternative (empty: nothing seen yet)."""
    log_plug_in: float = 0.0
    recent: tuple[float, ...] = ()
    """Forgetful sums for the plug-in's estimate: canary events, baseline events, canary
    requests, baseline requests."""
    dispersion: tuple[float, ...] = ()
    """The over-dispersion check (relative test): the four counts summed since the start, the open
    block's residual, variance and length (in analysis windows), and the closed blocks' sums of squared
    residuals and of variances. Empty: nothing seen yet (states written before it start afresh)."""

    @property
    def design_effect(self) -> float:
        """phi, what each new increment of log evidence is divided by (1: events look independent)."""
        if len(self.dispersion) < 9:
            return 1.0
        return float(design_effect(self.dispersion[7], self.dispersion[8]))

    @property
    def value(self) -> float:
        if not self.log_lr:
            return 1.0
        v = float(log_evidence(self.log_lr, self.log_plug_in))
        return math.exp(v) if v < 700 else math.inf

    def add(self, e_c: int, e_b: int, n_c: int, n_b: int, theta0: float, *, forget: float) -> Evidence:
        """Fold in a slice for the relative test; ``forget`` in (0, 1] weighs the recent sums first, and
        says how long the slice is: 0.5 ** (length in analysis windows). Blocks close when their slices
        add up to a window; with ``forget`` 1 (no window) none does and phi stays 1."""
        log_lr = np.asarray(self.log_lr or [0.0] * len(MIXTURE), dtype=float)
        q = n_c / (n_c + n_b) if n_c + n_b else 0.0
        x_c, x_b, r_c, r_b = self.recent or (0.0, 0.0, 0.0, 0.0)
        theta = float(plug_in_ratio(x_c, x_b, r_c, r_b, theta0))
        phi = self.design_effect
        plug = self.log_plug_in + float(ratio_log_lr(e_c, e_b, q, theta, theta0)) / phi
        mixed = log_lr + rate_ratio_increment(e_c, e_b, q, theta0) / phi
        recent = (x_c * forget + e_c, x_b * forget + e_b, r_c * forget + n_c, r_b * forget + n_b)
        t_c, t_b, m_c, m_b, res, var, length, sum_r2, sum_v = self.dispersion or (0.0,) * 9
        r, v = block_terms(e_c, e_b, q, centre_ratio(t_c, t_b, m_c, m_b, theta0))
        res, var = res + float(r), var + float(v)
        length += math.log(forget) / _LOG_HALF if 0.0 < forget < 1.0 else 0.0
        if length >= _BLOCK_END:
            sum_r2, sum_v, res, var, length = sum_r2 + res * res, sum_v + var, 0.0, 0.0, 0.0
        dispersion = (t_c + e_c, t_b + e_b, m_c + n_c, m_b + n_b, res, var, length, sum_r2, sum_v)
        return Evidence(tuple(mixed.tolist()), plug, recent, dispersion)

    def add_one_sample(self, e: int, n: int, p0: float, *, forget: float) -> Evidence:
        """Fold in a slice for the absolute test (rate at most p0)."""
        log_lr = np.asarray(self.log_lr or [0.0] * len(MIXTURE), dtype=float)
        x, r = (self.recent or (0.0, 0.0, 0.0, 0.0))[0::2]
        p = float(plug_in_rate(x, r, p0))
        plug = self.log_plug_in + float(rate_log_lr(e, n, p, p0))
        mixed = log_lr + one_sample_increment(e, n, p0)
        return Evidence(tuple(mixed.tolist()), plug, (x * forget + e, 0.0, r * forget + n, 0.0), self.dispersion)
