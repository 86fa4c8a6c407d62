from launchdeck.guard.enforcement import EnforcementRule, decide, shrink_weight


def test_automatic_pause_acts_on_a_page() -> None:
    e = decide(EnforcementRule("pause"), alerts=((True, "spend 95%"),))
    assert e.action == "pause" and e.take_now and "spend 95%" in e.reason


def test_non_paging_alert_only_notifies() -> None:
    assert decide(EnforcementRule("pause"), alerts=((False, "spend 75%"),)).action == "none"
    assert decide(EnforcementRule("shrink", on="any"), alerts=((False, "spend 75%"),)).take_now


def test_approval_needed_waits_until_approved() -> None:
    rule = EnforcementRule("shrink", automatic=False)
    waiting = decide(rule, alerts=((True, "x"),))
    assert waiting.action == "shrink" and not waiting.take_now and "budget protect" in waiting.reason
    assert decide(rule, alerts=((True, "x"),), approved=True).take_now


def test_shrink_never_raises_a_weight() -> None:
    assert shrink_weight(5.0, 50.0) == 5.0 and shrink_weight(5.0, 2.0) == 2.0
