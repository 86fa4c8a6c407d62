"""Durations read as people write them, in messages, the live view and `status`."""

from __future__ import annotations

import pytest

from launchdeck.core.durations import human


@pytest.mark.parametrize(("seconds", "text"), [
    (0, "0 s"), (42.4, "42 s"), (90, "90 s"), (900, "15 min"), (5400, "1 h 30 min"), (86400, "24 h"),
    (86483, "24 h 1 min"), (172800, "48 h"), (7 * 86400, "7 d"), (3.5 * 86400, "3 d 12 h"),
])
def test_durations_read_as_people_write_them(seconds: float, text: str) -> None:
    assert human(seconds) == text


def test_french_days_are_jours() -> None:
    assert human(7 * 86400, "fr") == "7 j" and human(5400, "fr") == "1 h 30 min"
