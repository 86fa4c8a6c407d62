"""The demo succeeds when it demonstrates: the bad canary rolled back, the good one promoted."""

from __future__ import annotations

from launchdeck.demo import demonstrated


def test_bad_canary_rolled_back_is_the_demo_working() -> None:
    line, ok = demonstrated("bad", "rolled_back")
    assert ok and line == "demo: as designed, the bad canary was rolled back"


def test_good_canary_promoted_is_the_demo_working() -> None:
    assert demonstrated("good", "promoted")[1]


def test_bad_canary_promoted_is_the_demo_failing() -> None:
    line, ok = demonstrated("bad", "promoted")
    assert not ok and "should have been rolled back, but the release ended promoted" in line


def test_good_canary_rolled_back_or_held_is_the_demo_failing() -> None:
    assert not demonstrated("good", "rolled_back")[1]
    assert not demonstrated("good", "held")[1]
    assert "ended without an outcome" in demonstrated("good", None)[0]
