"""Detection benchmark: the row schema, the sequential judge's A/A guarantee, detection of a strong
effect, and the exactness of the shortcuts that avoid simulating each request."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import special, stats

from launchdeck.bench import detection as D

SCENARIO_NAMES = ["aa", "aa-robust", "err-0.5", "err-1", "err-2", "err-5", "p95+10", "p95+20", "p95+50",
                  "tail+20", "drift", "late"]
DETECTOR_NAMES = ["flagger", "kayenta", "peeking", "sequential", "oracle"]
KEYS = ["detector", "scenario", "rps", "falseRollbackRate", "falseRollbackCI", "power", "delayMedianSeconds",
        "delayP90Seconds", "delayMedianRequests", "blastRadiusMean"]


def test_rows_follow_the_schema_on_a_tiny_run() -> None:
    rows = D.run(quick=True, seed=3, reps=8, horizon=300, workers=1)
    assert len(rows) == len(SCENARIO_NAMES) * 3 * len(DETECTOR_NAMES)
    assert list(dict.fromkeys(r["scenario"] for r in rows)) == SCENARIO_NAMES
    assert list(dict.fromkeys(r["detector"] for r in rows)) == DETECTOR_NAMES
    assert sorted({r["rps"] for r in rows}) == [20, 100, 1000]
    json.dumps(rows, allow_nan=False)
    for r in rows:
        assert list(r) == KEYS
        assert r["blastRadiusMean"] is not None and r["blastRadiusMean"] >= 0
        if r["scenario"] in ("aa", "aa-robust"):
            lo, hi = r["falseRollbackCI"]
            assert 0 <= lo <= r["falseRollbackRate"] <= hi <= 1
            assert r["power"] is None and r["delayMedianSeconds"] is None
        else:
            assert r["falseRollbackRate"] is None and r["falseRollbackCI"] is None
            assert 0 <= r["power"] <= 1
            delays = (r["delayMedianSeconds"], r["delayP90Seconds"], r["delayMedianRequests"])
            if r["power"] == 0:
                assert delays == (None, None, None)
            else:
                assert None not in delays and 0 < r["delayMedianSeconds"] <= r["delayP90Seconds"] <= 300


def test_rows_depend_on_the_seed_only_not_on_the_workers() -> None:
    kwargs: dict[str, Any] = {"reps": 6, "horizon": 120, "rps_levels": (20, 1000), "scenarios": ["aa", "err-5"]}
    one = D.run(quick=True, seed=5, workers=1, **kwargs)
    assert D.run(quick=True, seed=5, workers=2, **kwargs) == one
    assert D.run(quick=True, seed=6, workers=1, **kwargs) != one


def test_sequential_false_rollbacks_stay_under_alpha_in_aa() -> None:
    runs = 2000
    times, _ = D.simulate_detections("aa", 100, runs, horizon=300, seed=(2024, 1), detectors=("sequential",))
    false_rollbacks = int(np.isfinite(times["sequential"]).sum())
    # Ville: <= 1% per metric; allow three binomial standard errors above 1%.
    assert false_rollbacks / runs <= 0.01 + 3 * math.sqrt(0.01 * 0.99 / runs)


def test_a_strong_error_increase_is_caught_by_the_statistical_detectors() -> None:
    times, served = D.simulate_detections("err-5", 100, 200, horizon=600, seed=(7, 7))
    for d in ("peeking", "sequential", "oracle"):
        assert np.isfinite(times[d]).mean() >= 0.99, d
    assert np.median(times["sequential"]) < np.median(times["flagger"])
    assert served["sequential"].mean() < served["kayenta"].mean()
    rows = [D.summarise(d, D.SCENARIOS["err-5"], 100, times[d], served[d], 600) for d in D.DETECTORS]
    seq = next(r for r in rows if r["detector"] == "sequential")
    assert seq["power"] >= 0.99 and seq["delayMedianSeconds"] < 120


def test_order_statistic_draw_matches_the_quantile_of_real_samples() -> None:
    rng = np.random.default_rng(1)
    n, reps = 200, 20000
    real = np.quantile(np.exp(D.MU + D.SIGMA * rng.standard_normal((reps, n))), 0.95, axis=1, method="inverted_cdf")
    drawn = D.order_statistic_quantile(rng, np.full(reps, n), 0.95)
    se = math.sqrt(real.var() / reps + drawn.var() / reps)
    assert abs(real.mean() - drawn.mean()) < 4 * se
    assert drawn.std() == pytest.approx(real.std(), rel=0.05)
    assert stats.ks_2samp(real, drawn).pvalue > 1e-3


def test_mixture_quantile_matches_real_samples_during_warm_up() -> None:
    scn = D.SCENARIOS["aa-robust"]
    window = D._window(scn, 0, 60)
    rng = np.random.default_rng(2)
    n, reps = 60, 20000
    seconds = rng.choice(60, size=(reps, n), p=window.weights)
    samples = np.exp(D.MU + window.shifts[seconds] + D.SIGMA * rng.standard_normal((reps, n)))
    real = np.quantile(samples, 0.95, axis=1, method="inverted_cdf")
    k = math.ceil(0.95 * n)
    drawn = window.ppf_ms(rng.beta(k, n - k + 1, size=reps))
    se = math.sqrt(real.var() / reps + drawn.var() / reps)
    assert abs(real.mean() - drawn.mean()) < 4 * se
    assert stats.ks_2samp(real, drawn).pvalue > 1e-3


def test_mann_whitney_moments_match_closed_form_and_real_statistics() -> None:
    shift = math.log(1.2)
    window = D._Window(np.array([shift]), np.array([1.0]), D.SIGMA)
    auc, p_ccs, p_css = window.mann_whitney_moments()
    assert auc == pytest.approx(special.ndtr(shift / (D.SIGMA * math.sqrt(2))), abs=1e-9)
    # Same distributions through the quadrature (not the A/A shortcut): 1/2, 1/3, 1/3.
    same = D._Window(np.array([0.0, 1e-6]), np.array([0.5, 0.5]), D.SIGMA).mann_whitney_moments()
    assert same == pytest.approx((0.5, 1 / 3, 1 / 3), abs=1e-5)

    rng = np.random.default_rng(3)
    n_c, n_s, reps = 30, 200, 4000
    x_c = np.exp(D.MU + shift + D.SIGMA * rng.standard_normal((reps, n_c, 1)))
    x_s = np.exp(D.MU + D.SIGMA * rng.standard_normal((reps, 1, n_s)))
    u_real = (x_c > x_s).sum(axis=(1, 2))
    mean = n_c * n_s * auc
    var = n_c * n_s * (auc * (1 - auc) + (n_c - 1) * (p_ccs - auc**2) + (n_s - 1) * (p_css - auc**2))
    assert u_real.mean() == pytest.approx(mean, abs=4 * math.sqrt(var / reps))
    assert u_real.var() == pytest.approx(var, rel=0.08)
    z_real = (u_real - n_c * n_s / 2) / math.sqrt(n_c * n_s * (n_c + n_s + 1) / 12)
    z_drawn = D.mann_whitney_z(rng, np.full(reps, n_c), np.full(reps, n_s), (auc, p_ccs, p_css))
    assert (z_drawn > D.Z_ALPHA).mean() == pytest.approx((z_real > D.Z_ALPHA).mean(), abs=0.03)


def test_share_test_is_the_exact_binomial_tail() -> None:
    p = D.share_test_greater(np.array([3, 0, 5]), np.array([10, 4, 0]), np.array([100, 100, 50]),
                             np.array([900, 900, 950]))
    assert p[0] == pytest.approx(stats.binom.sf(2, 13, 0.1))
    assert p[1] == 1.0
    assert p[2] == pytest.approx(0.05**5)


def test_main_prints_one_json_list_and_writes_the_chart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    real_run = D.run

    def tiny(quick: bool, seed: int = 1, **kwargs: Any) -> list[dict[str, Any]]:
        return real_run(quick, seed, reps=4, horizon=300, scenarios=["aa", "err-5"], workers=1,
                        progress=kwargs.get("progress"))

    monkeypatch.setattr(D, "run", tiny)
    chart = tmp_path / "chart.png"
    assert D.main(["--quick", "--output", "json", "--chart", str(chart), "--seed", "4"]) == 0
    out, err = capsys.readouterr()
    rows = json.loads(out)
    assert isinstance(rows, list) and len(rows) == 2 * 3 * 5 and list(rows[0]) == KEYS
    assert "[6/6]" in err and "aa at 20 rps" in err
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    assert D.main(["--quick", "--chart", ""]) == 0
    out, _ = capsys.readouterr()
    assert "sequential" in out and "err-5" in out and "blast radius" in out
