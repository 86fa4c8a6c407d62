"""How the dashboard writes numbers, times and states: one place, so every page says them alike."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from jinja2 import Environment, Undefined
from markupsafe import Markup, escape

from launchdeck.core.durations import human, in_text
from launchdeck.services.dashboard import ago

#: CSS class of a state, for its colour: green good, amber needs a look, red bad, grey idle.
_TONE = {"pass": "ok", "healthy": "ok", "promoted": "ok", "passed": "ok", "current": "run", "stage": "run",
         "breach": "warn", "breaching": "warn", "inconclusive": "warn", "thin data": "warn", "deciding": "warn",
         "held": "warn", "pending": "idle", "not reached": "idle", "not started": "idle", "starting": "idle",
         "fired": "bad", "failing": "bad", "rolled back": "bad", "rolled_back": "bad", "rolling_back": "bad",
         "refused": "bad", "aborted": "bad", "done": "idle"}


def tone(state: Any) -> str:
    return _TONE.get(str(state or "").lower(), "idle")


def _none(value: Any) -> bool:
    return value is None or isinstance(value, Undefined)


def pct(value: Any, digits: int = 0) -> str:
    return "–" if _none(value) else f"{float(value):.{digits}f}%"


def figure(value: Any, metric: str | None = None) -> str:
    """A metric's value as people write it: a rate in %, a latency in ms, a throughput in rps."""
    if _none(value):
        return "–"
    v = float(value)
    if metric in ("error_rate", "availability"):
        return f"{v * 100:.2f}%"
    if metric and metric.endswith("_ms"):
        return f"{v:.0f} ms"
    if metric == "throughput_rps":
        return f"{v:.0f} rps"
    return f"{v:.3g}"


def plantime(seconds: Any) -> str:
    return "–" if _none(seconds) else f"t+{human(float(seconds))}"


def clock(value: Any) -> str:
    if _none(value):
        return "–"
    at = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return at.strftime("%H:%M:%S")


def words(reason: Any) -> str:
    """A reason as a person reads it: plan seconds in words (``held 94.6116s`` → ``held 95 s``), as in the
    CLI and the messages; the decision log and the "why" keep the exact seconds."""
    return "" if _none(reason) else in_text(str(reason))


#: A key id as the audit writes it (``sha256:`` and 64 hex digits): too long for a side panel's line.
_KEY_ID = re.compile(r"\b(sha256:[0-9a-f]{12})[0-9a-f]{48}([0-9a-f]{4})\b")


def short_keys(text: Any) -> Markup:
    """Text with each long key id cut to its head and tail, the whole id in a tooltip (and in `audit verify`)."""
    safe = str(escape("" if _none(text) else text))
    return Markup(_KEY_ID.sub(lambda m: f'<abbr title="{m.group(0)}">{m.group(1)}…{m.group(2)}</abbr>', safe))


def size(count: Any) -> str:
    """A byte count as people say it: ``812 B``, ``43.6 kB``, ``2.1 MB``."""
    if _none(count):
        return "–"
    n = float(count)
    for unit in ("B", "kB", "MB"):
        if n < 1000 or unit == "MB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} MB"


def pretty(value: Any) -> str:
    return json.dumps(value, indent=1, sort_keys=True, default=str)


def install(env: Environment) -> None:
    env.filters.update(tone=tone, pct=pct, figure=figure, plantime=plantime, clock=clock, ago=ago, pretty=pretty,
                       words=words, short_keys=short_keys, size=size)
