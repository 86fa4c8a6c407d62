"""The plan's units: durations, ratios, latencies and relative changes, parsed strictly.

Every parser raises ValueError with a sentence that says what to write instead; the loader turns
that into a located plan problem.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_DURATION = re.compile(r"^\s*(?:\d+(?:\.\d+)?\s*(?:ms|s|m|h|d)\s*)+$")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)")
_DURATION_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PERCENT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")
_LATENCY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s)\s*$")
_RELATIVE = re.compile(r"^\s*([+-])\s*(\d+(?:\.\d+)?)\s*%\s*$")
_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*(s|m|h)\s*$")


def parse_duration(value: object) -> float:
    """A duration in plan seconds: ``30s``, ``5m``, ``1h``, ``7d`` (a bare number is seconds)."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration; write one like 30s, 5m, 1h or 7d")
    if isinstance(value, (int, float)):
        if value < 0:
            raise ValueError(f"{value} is negative; a duration is 0 or more, like 30s or 5m")
        return float(value)
    if not _DURATION.match(str(value)):
        raise ValueError(f"{value!r} is not a duration; write one like 30s, 5m, 1h30m or 7d")
    return sum(float(n) * _DURATION_SECONDS[unit] for n, unit in _DURATION_PART.findall(str(value)))


def parse_signed_duration(value: object) -> float:
    """A duration that may be negative (``-24h`` = 24 hours before the planned start)."""
    text = str(value).strip()
    if text.startswith("-"):
        return -parse_duration(text[1:])
    return parse_duration(text.lstrip("+"))


def parse_ratio(value: object) -> float:
    """A fraction: ``2%``, ``0.1%``, ``99.9%`` or ``0.02``."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a ratio; write one like 2%, 0.1% or 0.02")
    if isinstance(value, (int, float)):
        number = float(value)
    else:
        match = _PERCENT.match(str(value))
        if match:
            number = float(match.group(1)) / 100.0
        else:
            try:
                number = float(str(value))
            except ValueError:
                raise ValueError(f"{value!r} is not a ratio; write one like 2%, 0.1% or 0.02") from None
    if not 0.0 <= number <= 1.0:
        raise ValueError(f"{value!r} is outside 0..100%; write a share like 2% or 0.02")
    return number


def parse_latency_ms(value: object) -> float:
    """A latency in milliseconds: ``1200ms`` or ``1.2s`` (a bare number is milliseconds)."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a latency; write one like 120ms or 1.2s")
    if isinstance(value, (int, float)):
        return float(value)
    match = _LATENCY.match(str(value))
    if not match:
        raise ValueError(f"{value!r} is not a latency; write one like 120ms or 1.2s")
    number = float(match.group(1))
    return number * 1000.0 if match.group(2) == "s" else number


def parse_rate(value: object) -> float:
    """Occurrences per second of plan time: ``5/s``, ``30/m``, ``2/h`` (a bare number is per second)."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a rate; write one like 5/s, 30/m or 2/h")
    if isinstance(value, (int, float)):
        if value < 0:
            raise ValueError(f"{value} is negative; write a rate like 5/s")
        return float(value)
    match = _RATE.match(str(value))
    if not match:
        raise ValueError(f"{value!r} is not a rate; write one like 5/s, 30/m or 2/h")
    return float(match.group(1)) / _DURATION_SECONDS[match.group(2)]


def parse_weight(value: object) -> float:
    """A traffic weight in percent (0..100): ``5%`` or ``0.05``."""
    return round(parse_ratio(value) * 100.0, 6)


@dataclass(frozen=True)
class Threshold:
    """A gate's limit: an absolute value in the metric's unit, or a relative change vs a baseline."""

    value: float
    relative: bool
    text: str

    def __str__(self) -> str:
        return self.text


def parse_threshold(value: object, metric: str) -> Threshold:
    """``+20%``/``-10%`` are relative; otherwise the unit follows the metric (ratio or ms)."""
    text = str(value).strip()
    relative = _RELATIVE.match(text)
    if relative:
        sign = -1.0 if relative.group(1) == "-" else 1.0
        return Threshold(sign * float(relative.group(2)) / 100.0, True, text)
    if metric in ("error_rate", "availability", "error_budget_remaining"):
        return Threshold(parse_ratio(value), False, text)
    if metric.startswith("latency_") and metric.endswith("_ms"):
        return Threshold(parse_latency_ms(value), False, text)
    try:
        return Threshold(float(text), False, text)
    except ValueError:
        raise ValueError(
            f"{value!r} is not a threshold for {metric}; write a number, or a change like +20%"
        ) from None


def format_duration(seconds: float) -> str:
    """Plan seconds as a person writes them: 90 -> '1m30s', 3600 -> '1h'."""
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    whole = int(round(seconds))
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if whole >= size:
            parts.append(f"{whole // size}{unit}")
            whole %= size
    return "".join(parts) or "0s"
