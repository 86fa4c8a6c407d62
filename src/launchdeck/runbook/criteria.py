"""Criteria checked at a point in time (post-launch checkpoints, soak checks): value op threshold."""

from __future__ import annotations

from dataclasses import dataclass

from launchdeck.core.judges import OPS, fmt
from launchdeck.core.observation import WindowStats


@dataclass(frozen=True)
class Criterion:
    metric: str
    op: str
    threshold: float
    text: str


@dataclass(frozen=True)
class CriterionResult:
    criterion: Criterion
    value: float | None
    status: str
    """``passed``, ``failed`` or ``no-data`` (too few requests, or no value: never a pass)."""

    def describe(self) -> str:
        c = self.criterion
        return f"{c.metric} {fmt(c.metric, self.value)} (want {c.op} {c.text}): {self.status}"

    def to_json(self) -> dict[str, object]:
        c = self.criterion
        return {"metric": c.metric, "op": c.op, "threshold": c.threshold, "value": self.value, "status": self.status}


def evaluate(criteria: list[Criterion], stats: WindowStats, *, min_requests: int) -> list[CriterionResult]:
    out = []
    for c in criteria:
        value = stats.metric(c.metric) if stats.requests >= min_requests else None
        if value is None:
            out.append(CriterionResult(c, None, "no-data"))
        else:
            out.append(CriterionResult(c, value, "passed" if OPS[c.op](value, c.threshold) else "failed"))
    return out


def verdict(results: list[CriterionResult]) -> str:
    """``passed`` only when every criterion passed; a criterion without data fails the check."""
    return "passed" if results and all(r.status == "passed" for r in results) else "failed"
