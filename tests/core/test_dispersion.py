"""The design effect an error gate against a same-age baseline discounts its evidence by."""

from __future__ import annotations

import pytest

from launchdeck.core import dispersion
from launchdeck.core.dispersion import Dispersion
from launchdeck.core.sequential import Evidence

PER_WINDOW = 0.5  # forget for a slice one analysis window long


def windows(counts: list[tuple[int, int]], requests: int = 3000) -> Dispersion:
    """One slice per analysis window, canary and baseline at equal traffic."""
    d = Dispersion()
    for e_c, e_b in counts:
        d = d.add(e_c, e_b, requests, requests, 1.0, 1.0)
    return d


def test_the_model_costs_nothing_at_one_event_per_window_and_grows_with_the_events() -> None:
    assert dispersion.model_effect(1, 0.5, 0.3) == 1.0
    assert dispersion.model_effect(0.2, 0.5, 0.3) == 1.0
    # 7 events at an even split, two instances wandering 30%: 1 + 6 x 0.25 x 2 x 0.09.
    assert dispersion.model_effect(7, 0.5, 0.3) == pytest.approx(1.27)


def test_errors_that_swing_from_side_to_side_window_after_window_raise_the_measured_effect() -> None:
    d = windows([(9, 1), (1, 9)] * 6)
    assert float(dispersion.measured_effect(d.sum_d2, d.sum_v)) > 3.0


def test_a_steady_trend_or_a_single_jump_barely_raises_the_measured_effect() -> None:
    # Canary errors grow by one per window (a drift), or jump once from 5 to 15 (a late onset).
    trend = windows([(5 + i, 5) for i in range(12)])
    jump = windows([(5, 5)] * 6 + [(15, 5)] * 6)
    assert float(dispersion.measured_effect(trend.sum_d2, trend.sum_v)) < 1.3
    assert float(dispersion.measured_effect(jump.sum_d2, jump.sum_v)) < 1.6


def test_a_window_closes_when_its_slices_add_up_to_one() -> None:
    d = Dispersion()
    for _ in range(3):
        d = d.add(2, 1, 100, 100, 1.0, 1 / 3)
    assert d.previous is not None and d.previous[2] == 9 and d.events == 0


def test_the_state_round_trips_through_its_tuple() -> None:
    d = windows([(3, 4), (6, 2), (1, 1)])
    assert Dispersion.of(d.to_tuple()) == d
    assert Dispersion.of(()) == Dispersion()


def test_without_wander_the_evidence_is_exactly_as_before() -> None:
    plain = Evidence().add(9, 1, 3000, 3000, 1.0, forget=PER_WINDOW)
    assert plain.dispersion == () and plain.design_effect == 1.0


def test_bursty_errors_against_a_same_age_baseline_weigh_less_as_evidence() -> None:
    plain, discounted = Evidence(), Evidence()
    for e_c, e_b in [(4, 2), (5, 3), (6, 2), (4, 3), (7, 2)]:
        plain = plain.add(e_c, e_b, 3000, 3000, 1.0, forget=PER_WINDOW)
        discounted = discounted.add(e_c, e_b, 3000, 3000, 1.0, forget=PER_WINDOW, wander=0.3)
    assert discounted.design_effect > 1.2
    assert 1.0 < discounted.value < plain.value


def test_without_an_analysis_window_each_slice_is_a_window_and_the_effect_stays_bounded() -> None:
    ev = Evidence()
    for _ in range(50):
        ev = ev.add(3, 3, 3000, 3000, 1.0, forget=1.0, wander=0.3)
    # 6 errors per window at an even split: about 1 + 5 x 0.25 x 0.18, never the total so far (300).
    assert ev.design_effect < 1.5
