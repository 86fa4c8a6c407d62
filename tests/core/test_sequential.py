"""The sequential evidence: the plug-in keeps a late regression from hiding behind a healthy stretch."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

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
    assert again.gates["err"].evidence == ev and len(ev.dispersion) == 9
    older = {"gates": {"err": {"status": "pass", "log_lr": list(ev.log_lr)}}}
    loaded = ReleaseState.from_json(older).gates["err"].evidence
    assert loaded.log_lr == ev.log_lr and loaded.log_plug_in == 0.0 and loaded.dispersion == ()


def _bursty_aa_false_alarms(runs: int, seed: int, *, discount: bool) -> int:
    """Healthy canary and baseline, one instance each, 30 one-minute windows of 60 slices: each
    instance's error rate is multiplied, each minute, by its own mean-1 lognormal factor (sigma 0.5).
    Returns how many runs' evidence reached 100 (alpha 1%)."""
    rng = np.random.default_rng(seed)
    forget = 0.5 ** (1 / 60)
    fired = 0
    for _ in range(runs):
        ev = Evidence()
        for _minute in range(30):
            f_c, f_b = np.exp(0.5 * rng.standard_normal(2) - 0.125)
            e_c = rng.binomial(50, min(0.002 * f_c, 1.0), 60)
            e_b = rng.binomial(50, min(0.002 * f_b, 1.0), 60)
            for c, b in zip(e_c.tolist(), e_b.tolist()):
                ev = ev.add(c, b, 50, 50, 1.0, forget=forget)
                if not discount:  # the evidence as it was: every event taken as independent
                    ev = replace(ev, dispersion=())
            if ev.value >= 100:
                fired += 1
                break
    return fired


def test_discounting_bursts_cuts_the_false_alarms_of_two_wandering_instances() -> None:
    # Strong wander (a design effect near 2.4): taking every event as independent, the evidence reaches
    # 1/alpha in far more than alpha of the healthy runs (20 of 100 with this seed); discounted, in
    # well under half as many. Not down to alpha: in the first minutes phi has not been measured yet.
    before = _bursty_aa_false_alarms(100, seed=11, discount=False)
    after = _bursty_aa_false_alarms(100, seed=11, discount=True)
    assert before >= 10
    assert after <= before / 2


def test_the_design_effect_stays_near_one_for_independent_events_and_a_steady_regression() -> None:
    rng = np.random.default_rng(2)
    forget = 0.5 ** (1 / 6)
    healthy, bad = Evidence(), Evidence()
    for _ in range(60 * 6):
        healthy = healthy.add(int(rng.binomial(500, 0.01)), int(rng.binomial(500, 0.01)), 500, 500, 1.0, forget=forget)
        bad = bad.add(int(rng.binomial(500, 0.03)), int(rng.binomial(500, 0.01)), 500, 500, 1.0, forget=forget)
    assert healthy.design_effect < 1.3
    assert bad.design_effect < 1.3


def test_bursts_raise_the_design_effect_and_slow_the_evidence() -> None:
    rng = np.random.default_rng(3)
    forget = 0.5 ** (1 / 6)
    ev = Evidence()
    for minute in range(60):
        rate = 0.03 if minute % 2 else 0.002  # the canary's errors come in minute-long bursts
        for _ in range(6):
            ev = ev.add(int(rng.binomial(500, rate)), int(rng.binomial(500, 0.0166)), 500, 500, 1.0, forget=forget)
    assert ev.design_effect > 3
    before = ev.log_plug_in
    assert ev.add(30, 5, 500, 500, 1.0, forget=forget).log_plug_in - before < 0.5 * float(
        replace(ev, dispersion=()).add(30, 5, 500, 500, 1.0, forget=forget).log_plug_in - before)


def test_blocks_close_after_a_window_of_slices_whatever_their_length() -> None:
    ev = Evidence()
    for _ in range(3):  # three slices of a third of a window: one block closed
        ev = ev.add(5, 1, 50, 50, 1.0, forget=0.5 ** (1 / 3))
    assert ev.dispersion[6] == 0.0 and ev.dispersion[8] > 0
    never = Evidence()
    for _ in range(50):  # no analysis window (forget 1): no block ever closes, phi stays 1
        never = never.add(5, 1, 50, 50, 1.0, forget=1.0)
    assert never.design_effect == 1.0 and never.dispersion[8] == 0.0


def test_the_benchmark_discounts_exactly_as_the_product_does() -> None:
    from launchdeck.bench.detectors import _increments, design_effects, plug_in_log_lr

    rng = np.random.default_rng(4)
    n_c, n_b = rng.poisson(5, (1, 300)), rng.poisson(5, (1, 300))
    burst = np.repeat(np.exp(0.6 * rng.standard_normal((1, 5))), 60, axis=1)
    e_c, e_b = rng.binomial(n_c, np.minimum(0.05 * burst, 1)), rng.binomial(n_b, 0.05)
    phi = design_effects(e_c, e_b, n_c, n_b, 1.0)
    q = n_c / np.maximum(n_c + n_b, 1)
    plug = plug_in_log_lr(e_c, e_b, n_c, n_b, 1.0, phi=phi)
    mixture = np.cumsum(_increments(e_c, e_b, q, 1.0) / phi[..., None], axis=1)
    ev = Evidence()
    for t in range(300):
        assert ev.design_effect == pytest.approx(phi[0, t])
        ev = ev.add(int(e_c[0, t]), int(e_b[0, t]), int(n_c[0, t]), int(n_b[0, t]), 1.0, forget=0.5 ** (1 / 60))
    assert phi.max() > 1.2
    assert ev.log_plug_in == pytest.approx(plug[0, -1])
    assert ev.log_lr == pytest.approx(mixture[0, -1].tolist())
