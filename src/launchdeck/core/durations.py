"""Durations as people write them: ``90 s``, ``15 min``, ``1 h 30 min``, ``24 h``.

The one place plan seconds become words for a person (messages, the live view, `status`); the
decision log and the evidence keep exact seconds.
"""

from __future__ import annotations

import math
import re

#: Plan seconds as the engine writes them in reasons: ``86483s``, ``308.404s`` (not ``ms``, not ``t+5s``).
_SECONDS = re.compile(r"(?<![\w.+])(\d+(?:\.\d+)?)s\b")

#: The unit for days, per locale; hours, minutes and seconds are SI and read the same everywhere.
_DAY = {"en": "d", "fr": "j"}


def human(seconds: float, locale: str = "en") -> str:
    """``seconds`` rounded to what a person would say: under two minutes in seconds, under an hour
    in minutes, then hours and minutes (days from three days on)."""
    if math.isnan(seconds) or math.isinf(seconds):
        return "n/a"
    s = max(0.0, seconds)
    if s < 120:
        return f"{round(s)} s"
    minutes = round(s / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours >= 72:
        days, hours = divmod(hours, 24)
        return f"{days} {_DAY.get(locale, 'd')}" + (f" {hours} h" if hours else "")
    return f"{hours} h" + (f" {minutes} min" if minutes else "")


def in_text(text: str, locale: str = "en") -> str:
    """``text`` with every count of seconds (``held 86483s``) written as people do (``held 24 h 1 min``)."""
    return _SECONDS.sub(lambda m: human(float(m.group(1)), locale), text)
