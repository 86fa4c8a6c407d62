"""Detection benchmark: the row schema, the sequential judge's A/A guarantee, detection of a strong
effect, and the exactness of the shortcuts that avoid simulating each request."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from launchdeck.bench import detection as D
from launchdeck.bench.detectors import SequentialConfig

SCENARIO_NAMES = ["aa", "aa-robust", "err-0.5", "err-1", "err-2", "err-5", "p95+10", "p95+20", "p95+50",
                  "tail+20", "drift", "late"]
DETECTOR_NAMES = ["flagger", "kayenta", "peeking", "sequential", "oracle", "sequential-baseline", "oracle-baseline"]
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


def test_a_plans_warm_up_keeps_a_cold_canary_from_being_rolled_back() -> None:
    # aa-robust's canary is 50% slower at first, as a fresh instance is: judged at once, it is rolled
    # back in most runs; with analysis.warmup 3m (and errors judged from the start) it is not.
    runs = 300
    cold, _ = D.simulate_detections("aa-robust", 100, runs, horizon=900, seed=(9, 1), detectors=("sequential",))
    warm, _ = D.simulate_detections("aa-robust", 100, runs, horizon=900, seed=(9, 1), detectors=("sequential",),
                                    sequential=SequentialConfig(warmup=180))
    assert (cold["sequential"] <= 900).mean() > 0.5
    assert (warm["sequential"] <= 900).sum() <= 6  # alpha = 1%: 6 or more of 300 has probability < 4%


def test_a_same_age_baseline_keeps_a_cold_canary_from_being_rolled_back_with_no_warm_up() -> None:
    # The baseline warms up exactly like the canary: compared with it, the warm-up is no regression,
    # while a real one is still caught (p95+50 at 100 rps: within minutes).
    runs = 300
    cold, _ = D.simulate_detections("aa-robust", 100, runs, horizon=900, seed=(9, 1),
                                    detectors=("sequential-baseline", "oracle-baseline"))
    assert (cold["sequential-baseline"] <= 900).sum() <= 6  # alpha = 1%: 6 or more of 300 has probability < 4%
    assert (cold["oracle-baseline"] <= 900).sum() <= 6
    slow, _ = D.simulate_detections("p95+50", 100, 100, horizon=900, seed=(9, 2),
                                    detectors=("sequential-baseline", "oracle-baseline"))
    assert np.isfinite(slow["sequential-baseline"]).mean() >= 0.95
    assert np.median(slow["sequential-baseline"]) <= 2 * np.median(slow["oracle-baseline"])


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
    assert isinstance(rows, list) and len(rows) == 2 * 3 * len(DETECTOR_NAMES) and list(rows[0]) == KEYS
    assert "[6/6]" in err and "aa at 20 rps" in err
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    assert D.main(["--quick", "--chart", ""]) == 0
    out, _ = capsys.readouterr()
    assert "sequential" in out and "err-5" in out and "blast radius" in out


def test_main_passes_the_plans_warm_up_and_minimum_effect_to_the_sequential_judge(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    seen: list[SequentialConfig] = []

    def record(quick: bool, seed: int = 1, **kwargs: Any) -> list[dict[str, Any]]:
        seen.append(kwargs["sequential"])
        return []

    monkeypatch.setattr(D, "run", record)
    assert D.main(["--quick", "--chart", "", "--output", "json", "--warmup", "3m", "--error-threshold", "+25%"]) == 0
    assert seen == [SequentialConfig(warmup=180, error_threshold=0.25)]
    with pytest.raises(SystemExit) as exc:
        D.main(["--quick", "--warmup", "soon"])
    assert exc.value.code == 2 and "'soon' is not a duration" in capsys.readouterr().err


def test_the_late_onset_oracle_does_not_know_the_onset_yet_holds_its_false_alarms() -> None:
    # Page's CUSUM at log(2 horizon / alpha): before the onset (600 s) it must stay quiet in all
    # but a few runs, after it catch the 20-fold error rate within seconds at 50 canary rps.
    times, _ = D.simulate_detections("late", 1000, 200, horizon=1800, seed=(3, 11), detectors=("oracle",))
    oracle = times["oracle"]
    assert (oracle <= 600).sum() <= 3
    assert np.median(oracle[oracle > 600] - 600) < 30


def test_the_chart_goes_to_the_ignored_out_directory_by_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    real_run = D.run
    monkeypatch.setattr(D, "run", lambda quick, seed=1, **kwargs: real_run(
        quick, seed, reps=2, horizon=120, scenarios=["aa"], workers=1, progress=kwargs.get("progress")))
    monkeypatch.chdir(tmp_path)
    assert D.main(["--quick", "--output", "json"]) == 0
    capsys.readouterr()
    assert (tmp_path / "out" / "bench-detection.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # nothing left at the root of where it ran
