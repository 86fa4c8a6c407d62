"""Freeze windows: whether an instant falls inside one, and when that window ends."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class Freeze:
    start: str
    """"HH:MM" local to ``tz``."""
    end: str
    """"HH:MM" local to ``tz`` ("24:00" is midnight); an end before the start crosses midnight."""
    tz: str = "UTC"
    weekday: str | None = None
    date: str | None = None

    def describe(self) -> str:
        day = self.date or (self.weekday or "every day")
        return f"{day} {self.start}–{self.end} {self.tz}"


def _at(day: datetime, hhmm: str) -> datetime:
    hours, minutes = (int(x) for x in hhmm.split(":"))
    base = datetime.combine(day.date(), time(0, 0), tzinfo=day.tzinfo)
    return base + timedelta(hours=hours, minutes=minutes)


def active(freeze: Freeze, instant: datetime) -> datetime | None:
    """The end of the freeze window containing ``instant`` (aware), or None when it is outside."""
    local = instant.astimezone(ZoneInfo(freeze.tz))
    for days_back in (0, 1):  # a window that crosses midnight started the day before
        day = local - timedelta(days=days_back)
        if freeze.date and day.date().isoformat() != freeze.date:
            continue
        if freeze.weekday and WEEKDAYS[day.weekday()] != freeze.weekday:
            continue
        start, end = _at(day, freeze.start), _at(day, freeze.end)
        if end <= start:
            end += timedelta(days=1)
        if start <= local < end:
            return end
    return None
