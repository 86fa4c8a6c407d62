"""The sequential evidence: the plug-in keeps a late regression from hiding behind a healthy stretch."""

from __future__ import annotations

import json

import numpy as np

from launchdeck.core.sequential import MIXTURE, Evidence, log_e_value
from launchdeck.core.state import GateTrack, ReleaseState


def _late_onset_delays(runs: int, healthy: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Slices until the evidence reaches 100, for the gate's evidence and for the mixture alone,
    when the canary (10% of 500 requests a slice, 1% errors like the stable) turns 5x worse after
    ``healthy`` slices."""
    rng = np.random.default_rng(seed)
    both, mixture_only = np.full(runs, np.inf), np.full(runs, np.inf)
    for r in range(runs):
        ev = Evidence()
        for t in range(healthy + 200):
            rate = 0.05 if t >= healthy else 0.01
            ev = ev.add(int(rng.binomial(50, rate)), int(rng.binomial(450, 0.01)), 50, 450, 1.0, forget=0.8)
            if t >= healthy and ev.value >= 100 and not np.isfinite(both[r]):
                both[r] = t - healthy + 1
            if t >= healthy and float(log_e_value(ev.log_lr)) >= np.log(100) and not np.isfinite(mixture_only[r]):
                mixture_only[r] = t - healthy + 1
            if np.isfinite(both[r]) and np.isfinite(mixture_only[r]):
                break
    return both, mixture_only


def test_a_regression_after_a_long_healthy_stretch_is_caught_sooner_than_by_the_mixture_alone() -> None:
    both, mixture_only = _late_onset_delays(runs=60, healthy=300, seed=3)
    assert np.isfinite(both).all()
    assert np.median(both) < 0.7 * np.median(mixture_only)


def test_the_plug_in_never_bets_on_the_slice_it_is_judging() -> None:
    # The first slice is terrible, but the estimate comes from before it: the plug-in's factor is 1.
    ev = Evidence().add(40, 5, 50, 450, 1.0, forget=0.5)
    assert ev.log_plug_in == 0.0 and max(ev.log_lr) > 0
    # The next slice is judged at the ratio the first one suggested.
    assert Evidence().add(40, 5, 50, 450, 1.0, forget=0.5).add(40, 5, 50, 450, 1.0, forget=0.5).log_plug_in > 0


def test_a_healthy_stretch_sinks_the_plug_in_far_less_than_the_mixtures_large_alternatives() -> None:
    rng = np.random.default_rng(5)
    ev = Evidence()
    for _ in range(500):
        ev = ev.add(int(rng.binomial(50, 0.01)), int(rng.binomial(450, 0.01)), 50, 450, 1.0, forget=0.8)
    five_fold = int(np.argmin(np.abs(np.asarray(MIXTURE) - 5.0)))
    assert ev.log_plug_in > 0.2 * ev.log_lr[five_fold]


def test_evidence_survives_the_store_round_trip_and_older_states_still_load() -> None:
    ev = Evidence().add(3, 1, 50, 450, 1.0, forget=0.5).add(4, 2, 50, 450, 1.0, forget=0.5)
    state = ReleaseState(gates={"err": GateTrack(status="pass", evidence=ev)})
    again = ReleaseState.from_json(json.loads(json.dumps(state.to_json())))
    assert again.gates["err"].evidence == ev
    older = {"gates": {"err": {"status": "pass", "log_lr": list(ev.log_lr)}}}
    loaded = ReleaseState.from_json(older).gates["err"].evidence
    assert loaded.log_lr == ev.log_lr and loaded.log_plug_in == 0.0
