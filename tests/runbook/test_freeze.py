from __future__ import annotations

from datetime import UTC, datetime

from launchdeck.runbook.freeze import Freeze, active
from launchdeck.runbook.roles import refusal

TUESDAY_EVENING = Freeze("20:00", "23:00", "UTC", weekday="tue")


def test_instant_inside_a_weekday_window_is_frozen_until_its_end() -> None:
    ends = active(TUESDAY_EVENING, datetime(2026, 11, 24, 21, 30, tzinfo=UTC))
    assert ends is not None and ends.hour == 23


def test_same_time_on_another_day_is_free() -> None:
    assert active(TUESDAY_EVENING, datetime(2026, 11, 23, 21, 30, tzinfo=UTC)) is None


def test_window_end_is_exclusive() -> None:
    assert active(TUESDAY_EVENING, datetime(2026, 11, 24, 23, 0, tzinfo=UTC)) is None


def test_time_zone_of_the_window_is_respected() -> None:
    paris = Freeze("09:00", "10:00", "Europe/Paris", weekday="mon")
    assert active(paris, datetime(2026, 11, 23, 8, 30, tzinfo=UTC)) is not None  # 09:30 in Paris
    assert active(paris, datetime(2026, 11, 23, 9, 30, tzinfo=UTC)) is None


def test_overnight_window_belongs_to_the_day_it_starts() -> None:
    friday_night = Freeze("22:00", "06:00", "UTC", weekday="fri")
    assert active(friday_night, datetime(2026, 11, 28, 5, 0, tzinfo=UTC)) is not None  # Saturday 05:00
    assert active(friday_night, datetime(2026, 11, 29, 5, 0, tzinfo=UTC)) is None  # Sunday 05:00


def test_explicit_date_window() -> None:
    launch_day = Freeze("00:00", "24:00", "UTC", date="2026-12-24")
    assert active(launch_day, datetime(2026, 12, 24, 12, 0, tzinfo=UTC)) is not None
    assert active(launch_day, datetime(2026, 12, 25, 12, 0, tzinfo=UTC)) is None


def test_sign_off_from_someone_outside_the_role_names_its_members() -> None:
    why = refusal({"sre": {"sam", "lee"}}, "eve", "sre")
    assert why is not None and "lee, sam" in why
    assert "no role" in (refusal({"sre": {"sam"}}, "sam", "dba") or "")
    assert refusal({"sre": {"sam"}}, "sam", "sre") is None
