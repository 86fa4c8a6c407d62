"""Over-dispersion of one instance's errors: the design effect a sequential error gate discounts by.

The relative test (``core/sequential.py``) treats events as independent given each slice's shares. A
single instance's errors are not: its error rate wanders (a bad cache node for a minute, a retry storm),
so the events of a window lean to one side together. Against a same-age baseline both sides are single
instances and both wander; the likelihood ratio, convex in the share of events that fall on the canary,
then has an expectation above 1 in every window, and the e-process leaks (1.5% false rollbacks at a
1% budget on the benchmark's ``aa-robust`` at 1000 rps). Quasi-likelihood's remedy: divide each
increment of log evidence by the *design effect* phi >= 1, how many times larger the spread of the
canary's events is than the binomial one. With phi fixed before the slice, LR^(1/phi) keeps an
expectation of at most 1 (Jensen) when events are independent, and about 1 (to a normal approximation)
when they come in bursts of that size.

phi is the larger of two figures, both known before the slice:

* the **model**: if each instance's log error rate wanders by ``wander`` (standard deviation per
  analysis window) independently of the other's, the canary's share pi of a window's k events varies by
  about pi (1 - pi) sqrt(2) wander, and phi = 1 + (k - 1) pi (1 - pi) 2 wander^2. k is the events of the
  previous window or of the open one so far, whichever is larger; pi is the plug-in's recent estimate.
  This holds from the first slice, when nothing has been measured, and costs nothing at low traffic
  (k near 1) where bursts cannot be told from chance and do no harm;
* the **measurement**: the spread actually seen, from the differences between *consecutive* windows'
  Pearson residuals (canary events minus those the ratio estimated from all earlier counts predicts).
  A difference cancels what two neighbouring windows share, so a trend (a fading warm-up, a drift) or
  a single jump (a late onset) barely raises it, while a wander larger than the model's does. Shrunk
  toward 1 by ``DISPERSION_PRIOR``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

#: The per-window standard deviation of one instance's log error rate that the model assumes: 30%, the
#: benchmark's ``aa-robust`` and the order of a minute-to-minute wander of a single process's error rate.
INSTANCE_WANDER = 0.3
#: The measured design effect starts at 1 with the weight of this much binomial variance (about 8 events
#: at an even split): a pair or two of windows is not yet taken for a wandering instance.
DISPERSION_PRIOR = 2.0
_BLOCK_END = 1.0 - 1e-9


def share(q: Any, theta: Any) -> Any:
    """The canary's expected share of the events in a slice where it had share ``q`` of the requests."""
    return q * theta / (q * theta + 1 - q)


def model_effect(k: Any, pi: Any, wander: float) -> np.ndarray:
    """phi of the model: 1 + (k - 1) pi (1 - pi) 2 wander^2 for windows of ``k`` events (at least 1)."""
    k, pi = np.asarray(k, dtype=float), np.asarray(pi, dtype=float)
    return 1.0 + np.maximum(k - 1.0, 0.0) * pi * (1.0 - pi) * 2.0 * wander * wander


def centre_ratio(t_c: Any, t_b: Any, m_c: Any, m_b: Any, theta0: float) -> np.ndarray:
    """The rate ratio from all the counts before a slice (events t, requests m), shrunk toward theta0 by
    two pseudo-events: where the residuals are measured from. Unlike the plug-in's it may go below theta0
    (it estimates, it does not bet)."""
    t_c, t_b, m_c, m_b = (np.asarray(a, dtype=float) for a in (t_c, t_b, m_c, m_b))
    q = np.clip(m_c / np.maximum(m_c + m_b, 1e-12), 1e-9, 1 - 1e-9)
    pi0 = share(q, theta0)
    ratio = (t_c + 2.0 * pi0) / (t_b + 2.0 * (1 - pi0)) * (1 - q) / q
    return np.clip(np.where(m_c + m_b > 0, ratio, theta0), theta0 / 50.0, 50.0 * theta0)


def residual_terms(e_c: Any, e_b: Any, pi: Any) -> tuple[np.ndarray, np.ndarray]:
    """A slice's share of its window's Pearson residual (canary events minus those the share ``pi``
    predicts, given the slice's events) and of its binomial variance."""
    e_c, e_b, pi = (np.asarray(a, dtype=float) for a in (e_c, e_b, pi))
    k = e_c + e_b
    return e_c - k * pi, k * pi * (1.0 - pi)


def measured_effect(sum_d2: Any, sum_v: Any) -> np.ndarray:
    """phi measured: consecutive windows' squared residual differences over their binomial variance,
    shrunk toward 1 by DISPERSION_PRIOR, never below 1."""
    sum_d2, sum_v = np.asarray(sum_d2, dtype=float), np.asarray(sum_v, dtype=float)
    return np.maximum(1.0, (DISPERSION_PRIOR + sum_d2) / (DISPERSION_PRIOR + sum_v))


@dataclass(frozen=True)
class Dispersion:
    """What the design effect is computed from, kept in the gate's evidence (as a tuple of floats)."""

    totals: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    """Canary events, baseline events, canary requests, baseline requests since the start: the centre
    the residuals are measured from."""
    residual: float = 0.0
    variance: float = 0.0
    events: float = 0.0
    length: float = 0.0
    """The open window's residual, binomial variance, events, and length in analysis windows."""
    previous: tuple[float, float, float] | None = None
    """The last closed window's residual, variance and events."""
    sum_d2: float = 0.0
    sum_v: float = 0.0
    """Over pairs of consecutive closed windows: squared residual differences, and their variances."""

    @classmethod
    def of(cls, data: tuple[float, ...]) -> Dispersion:
        if len(data) != 14:  # nothing seen yet, or a state written before the dispersion was kept
            return cls()
        prev = tuple(data[8:11]) if data[11] else None
        return cls(tuple(data[0:4]), data[4], data[5], data[6], data[7], prev, data[12], data[13])  # type: ignore[arg-type]

    def to_tuple(self) -> tuple[float, ...]:
        prev = self.previous or (0.0, 0.0, 0.0)
        return (*self.totals, self.residual, self.variance, self.events, self.length, *prev,
                1.0 if self.previous else 0.0, self.sum_d2, self.sum_v)

    def effect(self, pi: float, wander: float) -> float:
        """phi for the next slice, whose canary share of events is estimated at ``pi``."""
        k = max(self.events, self.previous[2] if self.previous else 0.0)
        return max(float(model_effect(k, pi, wander)), float(measured_effect(self.sum_d2, self.sum_v)))

    def add(self, e_c: int, e_b: int, n_c: int, n_b: int, theta0: float, length: float) -> Dispersion:
        """Fold in a slice ``length`` analysis windows long; a window closes when its slices add up to one."""
        t_c, t_b, m_c, m_b = self.totals
        ratio = float(centre_ratio(t_c, t_b, m_c, m_b, theta0))
        slice_q = n_c / (n_c + n_b) if n_c + n_b else 0.0
        r, v = residual_terms(e_c, e_b, share(slice_q, ratio))
        res, var, events = self.residual + float(r), self.variance + float(v), self.events + e_c + e_b
        totals = (t_c + e_c, t_b + e_b, m_c + n_c, m_b + n_b)
        span = self.length + length
        if span < _BLOCK_END:
            return Dispersion(totals, res, var, events, span, self.previous, self.sum_d2, self.sum_v)
        sum_d2, sum_v = self.sum_d2, self.sum_v
        if self.previous is not None:
            sum_d2 += (res - self.previous[0]) ** 2
            sum_v += var + self.previous[1]
        return Dispersion(totals, previous=(res, var, events), sum_d2=sum_d2, sum_v=sum_v)


