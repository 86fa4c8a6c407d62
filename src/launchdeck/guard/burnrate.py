"""Error budgets and multiwindow burn-rate alerts, as in the Google SRE workbook (chapter 5).

An SLO's error budget is ``1 - objective`` of its window's requests. The burn rate over a window is
that window's error ratio divided by the budget: 1x spends the budget exactly over the SLO window.
An alert fires when both its long and its short window burn at least its factor: the long one
proves the burn is significant, the short one that it is still happening (so the alert also resets
quickly). Defaults: 14.4x over 1 h and 5 m (page), 6x over 6 h and 30 m (page), 1x over 3 d and 6 h
(ticket).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

HOUR = 3600.0


@dataclass(frozen=True)
class BurnWindow:
    factor: float
    long: float
    short: float
    page: bool


DEFAULT_WINDOWS = (
    BurnWindow(14.4, 1 * HOUR, 300.0, True),
    BurnWindow(6.0, 6 * HOUR, 1800.0, True),
    BurnWindow(1.0, 72 * HOUR, 6 * HOUR, False),
)


@dataclass(frozen=True)
class Sample:
    """Requests counted over ``[at - span, at)`` (plan or epoch seconds)."""

    at: float
    total: float
    bad: float
    span: float = 60.0


@dataclass(frozen=True)
class BurnAlert:
    window: BurnWindow
    long_rate: float
    short_rate: float
    page: bool
    reason: str


def _words(seconds: float) -> str:
    if seconds >= 86400 and seconds % 86400 == 0:
        return f"{seconds / 86400:g}d"
    if seconds >= HOUR and seconds % HOUR == 0:
        return f"{seconds / HOUR:g}h"
    return f"{seconds / 60:g}m"


def error_ratio(samples: tuple[Sample, ...], *, now: float, window: float) -> float | None:
    """Bad over total for the samples that end within ``(now - window, now]``; None without traffic."""
    total = bad = 0.0
    for sample in samples:
        if now - window < sample.at <= now:
            total += sample.total
            bad += sample.bad
    return bad / total if total > 0 else None


def burn_rate(ratio: float | None, objective: float) -> float:
    budget = 1.0 - objective
    return 0.0 if ratio is None or budget <= 0 else ratio / budget


def burn_alerts(samples: tuple[Sample, ...], *, now: float, objective: float,
                windows: tuple[BurnWindow, ...] = DEFAULT_WINDOWS) -> tuple[BurnAlert, ...]:
    """The alerts firing at ``now``: each window pair whose long and short burn rates both reach its factor."""
    return alerts_from_ratios(lambda w: error_ratio(samples, now=now, window=w), objective=objective,
                              windows=windows)


def alerts_from_ratios(ratio: Callable[[float], float | None], *, objective: float,
                       windows: tuple[BurnWindow, ...] = DEFAULT_WINDOWS) -> tuple[BurnAlert, ...]:
    """As :func:`burn_alerts`, from each window's error ratio as ``ratio(window seconds)`` gives it (None: no
    traffic), e.g. read from Prometheus rather than counted from samples."""
    alerts = []
    for window in windows:
        long_rate = burn_rate(ratio(window.long), objective)
        short_rate = burn_rate(ratio(window.short), objective)
        if long_rate >= window.factor and short_rate >= window.factor:
            alerts.append(BurnAlert(window, long_rate, short_rate, window.page,
                                    f"burning the error budget at {long_rate:.1f}x over {_words(window.long)} and "
                                    f"{short_rate:.1f}x over {_words(window.short)} (alert at {window.factor:g}x "
                                    f"of {objective:.4g} objective): " + ("pages" if window.page else "ticket")))
    return tuple(alerts)


def budget_remaining(samples: tuple[Sample, ...], *, now: float, objective: float, slo_window: float) -> float:
    """The share of the SLO window's error budget left (1.0 untouched, 0 spent, negative overspent)."""
    ratio = error_ratio(samples, now=now, window=slo_window)
    if ratio is None:
        return 1.0
    return 1.0 - burn_rate(ratio, objective)
