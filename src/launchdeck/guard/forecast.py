"""The next 72 hours of a tenant's spend, with a prediction interval, and when the budget runs out.

Hourly spend is fitted with Holt's linear exponential smoothing (statsmodels' ETS, additive error and
trend); the cumulative spend over the horizon is simulated from the fitted model, so the interval
covers the sum of the hours, not one hour. Exhaustion *falls inside the interval* when the upper
bound of the cumulative spend reaches the budget within the horizon: that is when to alert, before
the spend itself gets there. The simulation draws from a seeded generator, so a forecast is
reproducible from its inputs.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

MIN_HOURS = 6
"""Fewer hourly points than this give no trend worth fitting: the forecast says so instead."""


@dataclass(frozen=True)
class SpendForecast:
    horizon_hours: int
    spent: float
    budget: float
    mean: float
    """Expected cumulative month spend at the end of the horizon."""
    lower: float
    upper: float
    level: float
    exhaustion_hours: float | None
    """Hours until the interval's upper bound reaches the budget (None: not within the horizon)."""
    expected_exhaustion_hours: float | None
    """Hours until the expected spend reaches the budget (None: not within the horizon)."""
    method: str
    reason: str

    @property
    def exhaustion_inside(self) -> bool:
        return self.exhaustion_hours is not None


def _first_hour(path: np.ndarray, limit: float) -> float | None:
    over = np.nonzero(path >= limit)[0]
    return float(over[0] + 1) if over.size else None


def forecast_spend(hourly: tuple[float, ...], *, spent: float, budget: float, horizon_hours: int = 72,
                   level: float = 0.90, repetitions: int = 400, seed: int = 0) -> SpendForecast:
    """Forecast the cumulative spend ``horizon_hours`` ahead from the month's ``spent`` and the recent
    ``hourly`` spend (oldest first, one value an hour)."""
    values = np.asarray(hourly, dtype=float)
    if values.size < MIN_HOURS:
        rate = float(values.mean()) if values.size else 0.0
        path = spent + rate * np.arange(1, horizon_hours + 1)
        hours = _first_hour(path, budget)
        return SpendForecast(horizon_hours, spent, budget, float(path[-1]), float(path[-1]), float(path[-1]), level,
                             hours, hours, "mean-rate",
                             f"only {values.size} hourly points (a trend needs {MIN_HOURS}): the mean rate, "
                             "no interval")
    from statsmodels.tools.sm_exceptions import ConvergenceWarning
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    if np.ptp(values) == 0.0:
        paths = np.tile(values[-1], (horizon_hours, 1))
    else:
        with warnings.catch_warnings():
            # A fit that stops short of the optimum still gives a usable trend; the interval carries the doubt.
            warnings.simplefilter("ignore", ConvergenceWarning)
            warnings.simplefilter("ignore", RuntimeWarning)
            fit = ETSModel(values, error="add", trend="add").fit(disp=False)
        paths = np.asarray(fit.simulate(horizon_hours, anchor="end", repetitions=repetitions,
                                        rng=np.random.default_rng(seed)), dtype=float).reshape(horizon_hours, -1)
    # Spend cannot be negative in an hour, whatever the noise says.
    cumulative = spent + np.cumsum(np.clip(paths, 0.0, None), axis=0)
    tail = (1.0 - level) / 2.0
    lower_path = np.quantile(cumulative, tail, axis=1)
    upper_path = np.quantile(cumulative, 1.0 - tail, axis=1)
    mean_path = cumulative.mean(axis=1)
    hours = _first_hour(upper_path, budget)
    expected = _first_hour(mean_path, budget)
    if hours is None:
        reason = (f"within {horizon_hours} h the spend stays under the budget {budget:,.2f} "
                  f"({level:.0%} interval up to {upper_path[-1]:,.2f})")
    else:
        reason = (f"the budget {budget:,.2f} may run out in {hours:g} h (the {level:.0%} interval's upper bound; "
                  + (f"expected in {expected:g} h)" if expected is not None else
                     f"expected {mean_path[-1]:,.2f} at {horizon_hours} h)"))
    return SpendForecast(horizon_hours, spent, budget, float(mean_path[-1]), float(lower_path[-1]),
                         float(upper_path[-1]), level, hours, expected, "holt-ets", reason)
