from launchdeck.guard.autonomy import (
    Outcome,
    SafetyTargets,
    next_tier,
    permission,
    safety,
)

DAY = 86400.0


def test_tiers_decide_who_acts() -> None:
    assert permission(1, "promote").person_needed and permission(1, "rollback").person_needed
    assert permission(2, "promote").alone and permission(2, "rollback").person_needed
    assert permission(3, "promote").alone and permission(3, "rollback").alone


def test_override_holds_even_tier_3_until_it_ends() -> None:
    held = permission(3, "rollback", override_until=3600.0, now=0.0)
    assert held.person_needed and "emergency override" in held.reason
    assert permission(3, "rollback", override_until=3600.0, now=3600.0).alone


def test_compensation_over_target_drops_one_tier() -> None:
    outcomes = tuple(Outcome(-60.0 * i, True, False) for i in range(199)) + (Outcome(-30.0, False, True),)
    figures = safety(outcomes, now=0.0, targets=SafetyTargets())
    day = figures[0]
    assert day.releases == 200 and day.compensation_rate == 0.005 and day.breaches[0].startswith("success")
    outcomes += (Outcome(-10.0, False, True),)
    decision = next_tier(3, safety(outcomes, now=0.0, targets=SafetyTargets()))
    assert decision.tier == 2 and decision.changed and "compensation" in decision.reason


def test_old_outcomes_leave_the_24h_window_but_not_the_30d_one() -> None:
    outcomes = (Outcome(-2 * DAY, False, True),) + tuple(Outcome(-60.0 * i, True, False) for i in range(10))
    day, month = safety(outcomes, now=0.0, targets=SafetyTargets())
    assert day.breaches == () and month.breaches != ()


def test_no_releases_no_breach_and_tier_1_stays() -> None:
    assert not next_tier(3, safety((), now=0.0, targets=SafetyTargets())).changed
    bad = safety((Outcome(0.0, False, True),), now=0.0, targets=SafetyTargets())
    assert next_tier(1, bad).tier == 1
