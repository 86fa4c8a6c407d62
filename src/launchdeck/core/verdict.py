"""A judge's answer for one gate at one evaluation: pass, breach or inconclusive, and why."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

Status = Literal["pass", "breach", "inconclusive"]


@dataclass(frozen=True)
class Verdict:
    gate: str
    status: Status
    reason: str
    """One line a person reads in chat, in `launchdeck why` and in the evidence."""
    canary: float | None = None
    baseline: float | None = None
    limit: float | None = None
    samples: dict[str, int] = field(default_factory=dict)
    evidence: float | None = None
    """Sequential judges: the e-value (evidence against "canary no worse")."""
    bound: float | None = None
    """Sequential judges: the e-value at which the gate fires (1/alpha)."""
    canary_interval: tuple[float, float] | None = None
    """Sequential judges: 95% interval of the canary's figure over the window."""
    baseline_interval: tuple[float, float] | None = None

    def to_json(self) -> dict[str, object]:
        """JSON-safe: an interval's open side (infinity) becomes null."""
        out = {k: v for k, v in self.__dict__.items() if v is not None and v != {}}
        for key in ("canary_interval", "baseline_interval"):
            if key in out:
                out[key] = [x if math.isfinite(x) else None for x in out[key]]  # type: ignore[attr-defined]
        return out
