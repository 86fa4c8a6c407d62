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

An error gate against a same-age baseline compares two single instances whose error rates wander; its
increments are divided by the design effect of ``core/dispersion.py`` (``wander`` in ``Evidence.add``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from launchdeck.core import dispersion

#: Alternatives of the mixture, as multiples of the null value (rate ratio or rate).
MIXTURE = tuple(1.25 * (40.0 ** (i / 23)) for i in range(24))
_MIX = np.asarray(MIXTURE)
#: The plug-in's estimate starts from this many pseudo-events at the null, and stays below
#: PLUG_IN_MAX times the null.
PLUG_IN_PRIOR_EVENTS = 2.0
PLUG_IN_MAX = 50.0
_LOG_HALF = math.log(0.5)


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
    """What the design effect is computed from (``dispersion.Dispersion``); empty unless the gate
    discounts for over-dispersion."""
    design_effect: float = 1.0
    """The design effect the last slice was divided by (1: events taken as independent)."""

    @property
    def value(self) -> float:
        if not self.log_lr:
            return 1.0
        v = float(log_evidence(self.log_lr, self.log_plug_in))
        return math.exp(v) if v < 700 else math.inf

    def add(self, e_c: int, e_b: int, n_c: int, n_b: int, theta0: float, *, forget: float,
            wander: float = 0.0) -> Evidence:
        """Fold in a slice for the relative test; ``forget`` in (0, 1] weighs the recent sums first and
        says how long the slice is: 0.5 ** (its length in analysis windows). With ``wander`` > 0 (an
        error gate against a same-age baseline) the slice's log likelihood ratios are divided by the
        design effect known before it (``core/dispersion.py``)."""
        log_lr = np.asarray(self.log_lr or [0.0] * len(MIXTURE), dtype=float)
        q = n_c / (n_c + n_b) if n_c + n_b else 0.0
        x_c, x_b, r_c, r_b = self.recent or (0.0, 0.0, 0.0, 0.0)
        theta = float(plug_in_ratio(x_c, x_b, r_c, r_b, theta0))
        phi, spread = 1.0, self.dispersion
        if wander > 0:
            state = dispersion.Dispersion.of(self.dispersion)
            q_recent = r_c / (r_c + r_b) if r_c + r_b else q
            phi = state.effect(float(dispersion.share(q_recent, theta)), wander)
            # No analysis window (forget 1): each slice is a window of its own.
            length = math.log(forget) / _LOG_HALF if 0.0 < forget < 1.0 else 1.0
            spread = state.add(e_c, e_b, n_c, n_b, theta0, length).to_tuple()
        plug = self.log_plug_in + float(ratio_log_lr(e_c, e_b, q, theta, theta0)) / phi
        mixed = log_lr + rate_ratio_increment(e_c, e_b, q, theta0) / phi
        recent = (x_c * forget + e_c, x_b * forget + e_b, r_c * forget + n_c, r_b * forget + n_b)
        return Evidence(tuple(mixed.tolist()), plug, recent, spread, phi)

    def add_one_sample(self, e: int, n: int, p0: float, *, forget: float) -> Evidence:
        """Fold in a slice for the absolute test (rate at most p0)."""
        log_lr = np.asarray(self.log_lr or [0.0] * len(MIXTURE), dtype=float)
        x, r = (self.recent or (0.0, 0.0, 0.0, 0.0))[0::2]
        p = float(plug_in_rate(x, r, p0))
        plug = self.log_plug_in + float(rate_log_lr(e, n, p, p0))
        mixed = log_lr + one_sample_increment(e, n, p0)
        return Evidence(tuple(mixed.tolist()), plug, (x * forget + e, 0.0, r * forget + n, 0.0))
