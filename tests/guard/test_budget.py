from launchdeck.guard.budget import crossed


def test_each_threshold_fires_once_a_month_and_ninety_and_over_page() -> None:
    fired: set[tuple[str, str, float]] = set()
    seen = []
    for spent in (500.0, 760.0, 800.0, 860.0, 960.0, 990.0, 1010.0, 1200.0):
        alerts = crossed(month="2026-12", budget=1000.0, spent=spent, fired=frozenset(fired))
        fired |= {a.key for a in alerts}
        seen += [(a.threshold, a.page) for a in alerts]
    assert seen == [(0.75, False), (0.85, False), (0.95, True), (1.0, True)]


def test_a_new_month_fires_again() -> None:
    first = crossed(month="2026-11", budget=100.0, spent=80.0)
    again = crossed(month="2026-12", budget=100.0, spent=80.0, fired=frozenset(a.key for a in first))
    assert [a.threshold for a in again] == [0.75]


def test_a_jump_past_several_thresholds_fires_each_and_page_level_is_the_policys() -> None:
    alerts = crossed(month="2026-12", budget=100.0, spent=90.0, thresholds=(0.5, 0.9), page_at=0.5)
    assert [(a.threshold, a.page) for a in alerts] == [(0.5, True), (0.9, True)]
    assert "90% of the 2026-12 budget" in alerts[1].reason


def test_forecast_basis_is_counted_apart_from_actual() -> None:
    actual = crossed(month="2026-12", budget=100.0, spent=76.0)
    forecast = crossed(month="2026-12", budget=100.0, spent=76.0, basis="forecast",
                       fired=frozenset(a.key for a in actual), within="within 72 h")
    assert [a.basis for a in forecast] == ["forecast"] and "within 72 h" in forecast[0].reason
