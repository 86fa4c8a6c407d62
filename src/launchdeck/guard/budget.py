"""A tenant's monthly spend against its budget: which thresholds were crossed, once each a month.

Thresholds are fractions of the budget (default 75/85/95/100%). Each fires once per month and per
basis: ``actual`` (what was spent) and ``forecast`` (what the 72-hour forecast's upper bound says
will be spent). An alert at or above the policy's page level pages; below it, it only notifies.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Basis = Literal["actual", "forecast"]
DEFAULT_THRESHOLDS = (0.75, 0.85, 0.95, 1.0)
DEFAULT_PAGE_AT = 0.90


@dataclass(frozen=True)
class BudgetAlert:
    month: str
    """``YYYY-MM``: the budget period the alert belongs to."""
    threshold: float
    basis: Basis
    page: bool
    spent: float
    budget: float
    reason: str

    @property
    def key(self) -> tuple[str, str, float]:
        """What makes an alert fire only once: month, basis, threshold."""
        return (self.month, self.basis, self.threshold)


def _pct(x: float) -> str:
    return f"{x * 100:g}%"


def crossed(*, month: str, budget: float, spent: float, basis: Basis = "actual",
            thresholds: tuple[float, ...] = DEFAULT_THRESHOLDS, page_at: float = DEFAULT_PAGE_AT,
            fired: frozenset[tuple[str, str, float]] = frozenset(), within: str = "") -> tuple[BudgetAlert, ...]:
    """The alerts to raise now: every threshold ``spent`` reached this month that has not fired yet on
    this basis. ``spent`` is the actual spend or, for ``forecast``, the forecast's upper bound;
    ``within`` words the forecast's horizon for the reason."""
    if budget <= 0:
        return ()
    ratio = spent / budget
    alerts = []
    for threshold in sorted(thresholds):
        if ratio + 1e-12 < threshold or (month, basis, threshold) in fired:
            continue
        page = threshold >= page_at
        what = (f"spend {spent:,.2f} is {_pct(ratio)} of the {month} budget {budget:,.2f}" if basis == "actual"
                else f"the forecast reaches {spent:,.2f} ({_pct(ratio)} of the {month} budget {budget:,.2f})"
                + (f" {within}" if within else ""))
        alerts.append(BudgetAlert(month, threshold, basis, page, spent, budget,
                                  f"{what}: crossed {_pct(threshold)}" + ("; pages (at or above "
                                                                           f"{_pct(page_at)})" if page else "")))
    return tuple(alerts)


def month_of(timestamp_iso: str) -> str:
    """``2026-12-01T10:00:00+00:00`` -> ``2026-12``."""
    return timestamp_iso[:7]
