from launchdeck.guard.burnrate import Sample, budget_remaining, burn_alerts

OBJ = 0.999


def minutes(n: int, *, bad_ratio: float, end: float, total: float = 1000.0) -> tuple[Sample, ...]:
    return tuple(Sample(end - 60.0 * i, total, total * bad_ratio) for i in range(n))


def first_alert_minute(bad_ratio: float) -> tuple[int, float] | None:
    """Three healthy days, then a burn from minute 0: the first minute a page fires, and its factor."""
    healthy = tuple(Sample(-60.0 * i, 1000.0, 0.0) for i in range(72 * 60))
    for minute in range(1, 120):
        burn = tuple(Sample(60.0 * i, 1000.0, 1000.0 * bad_ratio) for i in range(1, minute + 1))
        alerts = burn_alerts(healthy + burn, now=60.0 * minute, objective=OBJ)
        if alerts:
            return minute, alerts[0].window.factor
    return None


def test_an_outage_pages_within_the_short_window() -> None:
    minute, factor = first_alert_minute(0.5) or (0, 0.0)
    assert factor == 14.4 and 1 <= minute <= 5


def test_a_sustained_fifteen_fold_burn_pages_once_the_hour_shows_it() -> None:
    minute, factor = first_alert_minute(0.015) or (0, 0.0)
    assert factor == 14.4 and 57 <= minute <= 60


def test_a_short_blip_does_not_page() -> None:
    healthy = tuple(Sample(-60.0 * i, 1000.0, 0.0) for i in range(72 * 60))
    blip = tuple(Sample(-240.0 + 60 * i, 1000.0, 1000.0 * 0.02) for i in range(5))
    assert burn_alerts(healthy + blip, now=60.0, objective=OBJ) == ()


def test_long_window_alone_does_not_fire_once_the_burn_stopped() -> None:
    earlier = minutes(55, bad_ratio=0.03, end=-360.0)
    recovered = minutes(6, bad_ratio=0.0, end=0.0)
    assert 14.4 not in [a.window.factor for a in burn_alerts(earlier + recovered, now=0.0, objective=OBJ)]


def test_slow_burn_is_a_ticket_not_a_page() -> None:
    slow = tuple(Sample(-3600.0 * h, 60000.0, 60000.0 * 0.0012) for h in range(72))
    alerts = burn_alerts(slow, now=0.0, objective=OBJ)
    assert [(a.window.factor, a.page) for a in alerts] == [(1.0, False)]


def test_budget_remaining() -> None:
    half = minutes(60, bad_ratio=0.0005, end=0.0)
    assert abs(budget_remaining(half, now=0.0, objective=OBJ, slo_window=3600.0) - 0.5) < 1e-9
    assert budget_remaining((), now=0.0, objective=OBJ, slo_window=3600.0) == 1.0
