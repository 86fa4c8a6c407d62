import numpy as np

from launchdeck.guard.forecast import forecast_spend


def rising(hours: int, start: float, slope: float, noise: float = 0.5) -> tuple[float, ...]:
    rng = np.random.default_rng(7)
    return tuple(float(start + slope * h + rng.normal(0, noise)) for h in range(hours))


def test_exhaustion_within_72h_is_inside_the_interval() -> None:
    hourly = rising(96, 10.0, 0.1)
    fc = forecast_spend(hourly, spent=8000.0, budget=9500.0)
    assert fc.method == "holt-ets"
    assert fc.exhaustion_inside and fc.exhaustion_hours is not None and fc.exhaustion_hours <= 72
    assert fc.lower < fc.mean < fc.upper
    assert "may run out" in fc.reason


def test_far_budget_does_not_alert() -> None:
    fc = forecast_spend(rising(96, 10.0, 0.0), spent=1000.0, budget=50000.0)
    assert not fc.exhaustion_inside and "stays under" in fc.reason


def test_upper_bound_alerts_before_the_expected_spend_does() -> None:
    # Noisy spend whose expected path only just misses the budget: the interval already reaches it.
    hourly = rising(120, 20.0, 0.0, noise=6.0)
    fc = forecast_spend(hourly, spent=0.0, budget=fc_mean_plus(hourly))
    assert fc.exhaustion_inside and fc.expected_exhaustion_hours is None


def fc_mean_plus(hourly: tuple[float, ...]) -> float:
    return forecast_spend(hourly, spent=0.0, budget=1e12).mean * 1.02


def test_few_points_fall_back_to_the_mean_rate_and_say_so() -> None:
    fc = forecast_spend((10.0, 10.0), spent=0.0, budget=100.0)
    assert fc.method == "mean-rate" and fc.exhaustion_hours == 10.0 and "no interval" in fc.reason


def test_same_inputs_same_forecast() -> None:
    hourly = rising(48, 5.0, 0.2)
    assert forecast_spend(hourly, spent=10.0, budget=900.0) == forecast_spend(hourly, spent=10.0, budget=900.0)
