"""Detection benchmark: how fast, and how safely, each canary judge catches a bad canary.

Offline, seeded and vectorised (NumPy): every detector is run on the same simulated streams, many
replications at once. ``run`` returns one row per detector x scenario x traffic level; ``main`` is
the command line (``launchdeck bench detection``).

Simulation model
================

Traffic. Three levels, 20, 100 and 1000 requests/s in total, of which the canary gets 5% throughout
(1, 5 and 50 canary requests/s). Time runs in 1-second steps for a 30-minute horizon. In second t
the canary serves n_c ~ Poisson(0.05 * rps * load(t)) requests and the stable fleet
n_s ~ Poisson(0.95 * rps * load(t)); load(t) = 1 except in ``aa-robust``.

Errors. Each request fails independently: stable errors ~ Binomial(n_s, 0.1%), canary errors
~ Binomial(n_c, p_c(t)) with p_c the scenario's canary error rate.

Latency. Stable latency is lognormal with median 40 ms and p95 120 ms (mu = ln 40,
sigma = ln 3 / z_0.95 = 0.668). The canary's is lognormal with a scenario-dependent scale (a shift
of log-latency, possibly varying with t) and sigma. Individual requests are not simulated; each
detector draws the exact sampling distribution of the latency summary it uses, given the simulated
request counts:

* a quantile of n requests (Flagger's p95, the reference of the slow-request tests): the k-th
  order statistic, k = ceil(0.95 n) (the inverse-CDF sample quantile), is F^-1(U_(k)) with
  U_(k) ~ Beta(k, n - k + 1); when the distribution changes within the window F is the mixture
  over its seconds (weights = expected traffic), inverted numerically;
* "slow" requests above a threshold x: Binomial(n, 1 - F(x)); the two thresholds used by different
  detectors (an estimated reference, 120 ms) are drawn jointly (nested binomials) so the counts
  are consistent;
* the Mann-Whitney U of n_c canary vs n_s stable latencies: Normal with its exact mean
  n_c n_s A and exact variance n_c n_s [A(1 - A) + (n_c - 1)(P_ccs - A^2) + (n_s - 1)(P_css - A^2)],
  where A = P(X_c > X_s), P_ccs = P(X_c > X_s, X_c' > X_s) and P_css = P(X_c > X_s, X_c > X_s')
  are computed by Gauss-Hermite quadrature (closed-form integrands for two lognormals; the
  mixture over seconds when the canary changes within the window). The *test* standardises U
  with its H0 variance n_c n_s (n_c + n_s + 1) / 12, as the Mann-Whitney test does. In A/A,
  A = 1/2 and P = 1/3, and both variances coincide.

Summaries used by *different* detectors are drawn from their exact marginal distributions given the
same request and error counts, not from one common set of request latencies. Each detector's
operating characteristics are therefore exact; only the correlation between two detectors'
latency decisions is not modelled, which none of the reported numbers depends on.

Before the canary starts, the stable fleet has been serving for (at least) a minute: the
reference for the first minute's slow-request tests comes from that minute, as it would in a real
release. The stable version never changes.

Scenarios (onset t = 0 unless said):

* ``aa``: identical versions.
* ``aa-robust``: identical versions plus three nuisances a real canary has: load swings,
  load(t) = 1 + 0.5 sin(2 pi t / 600); error over-dispersion, the canary (one instance) has its
  error rate multiplied, each minute, by a mean-1 lognormal factor exp(0.3 Z - 0.045) (the stable
  fleet averages this out); warm-up, canary latency x (1 + 0.5 exp(-t / 60 s)).
* ``err-X``: canary error rate 0.1% -> X%.
* ``p95+X``: the whole canary latency distribution scaled by 1 + X/100 (all quantiles).
* ``tail+20``: same median, sigma raised so that p95 is +20% (144 ms).
* ``drift``: canary error rate rising linearly from 0.1% to 2% over the horizon.
* ``late``: 0.1% -> 2% from a third of the horizon (10 minutes) on; delays and blast radius are
  measured from there. A rollback before the onset is not a detection (it counts in no delay and
  serves no request after the onset: blast radius 0).

Detectors (a detector fires at the first time any of its metric checks says roll back):

* ``flagger``: every 60 s, a check of the last minute: fails if the canary error rate > 1% or the
  canary p95 > 1.2 x the known stable p95 (144 ms); a minute without canary requests does not fail.
  Rollback at the 5th failed check (cumulative, like Flagger's failedChecks).
* ``kayenta``: every 5 minutes, on that interval's data: Mann-Whitney (one-sided, canary slower)
  on latency and a comparison of error proportions, each at Kayenta's 98% confidence (a two-sided
  98% interval above zero, i.e. one-sided at 1%); score = % of metrics passing, rollback when the
  score is below 75 (the default marginal), i.e. as soon as one of the two fails.
* ``peeking``: a fixed-horizon one-sided test at 1%, re-run every 60 s on all data since the start:
  error proportions, and proportions of slow requests (the same slow counts as ``sequential``).
  Rollback at the first rejection.
* ``sequential``: launchdeck's judge (``launchdeck.core.sequential``), evaluated every second: the
  average of the mixture likelihood ratio of "canary rate = theta x stable rate" against
  theta0 = 1 and of the plug-in likelihood ratio (each second at the ratio estimated from the
  seconds before it, forgotten with a half-life of 60 s), given each second's events and canary
  share q = n_c / (n_c + n_s), for errors and for slow requests: slower than the stable p95 estimated
  from the previous minute's stable requests (an order-statistic draw). Each metric is a gate with
  alpha / 2, as the product splits the release's alpha across its sequential gates: it fires when
  its e-value reaches 2 / alpha = 200. By Ville's inequality each crosses with probability at most
  0.5% under its null, however long it is watched, so the detector's false rollbacks are at most
  alpha = 1%.
* ``oracle``: the test that knows the truth, the yardstick for the least possible delay. Wald's
  SPRT: log likelihood ratio of the true canary error rate vs 0.1%, and of the true canary
  probability of being slower than 120 ms vs 5%, from the canary's requests alone, every second.
  It keeps the detectors' false-rollback budget: alpha = 1% in all, alpha / 2 for each of its two
  tests (threshold log(2 / alpha) = log(200)); a yardstick allowed more false rollbacks than the
  detectors it measures would not measure the least possible delay. In A/A scenarios it uses the
  smallest effects of the benchmark as alternatives (0.5% errors, +10% latency). In ``late`` it knows the rates before and after the onset but not the onset
  itself, which no real detector can know: it is Page's CUSUM on the same likelihood ratios
  (optimal for a change between known distributions), with the threshold log(2 horizon / alpha)
  that bounds each test's false alarms over the horizon by alpha / 2 (Ville's inequality for each
  of the horizon's possible onsets, a union over them). An oracle told the onset would need only
  log(2 / alpha) and is not a yardstick any detector could approach: it pays nothing for not
  knowing when to start looking. ``sequential``, run from the start, accrues negative evidence in
  its mixture during the 10 healthy minutes; its plug-in part does not, and carries it.

Proportion tests (``kayenta``, ``peeking``). Error and slow-request proportions are compared with
the exact conditional test (one-sided): given x_c + x_s events, the canary's x_c is
Binomial(x_c + x_s, n_c / (n_c + n_s)) under H0, which is exact for Poisson counts and a close,
slightly conservative version of Fisher's exact test for binomial ones. It is used instead of the
pooled two-proportion z-test because at 1-5 canary requests/s and 0.1% errors the z-test is far
above its nominal level (at 20 rps a single canary error in a 5-minute window gives z = 4.4), which
would charge those detectors with small-sample miscalibration rather than with what they do. At
large counts the two tests agree.

Metrics per detector x scenario x rps:

* ``falseRollbackRate`` (A/A scenarios): fraction of runs rolled back within the horizon, with a
  95% Wilson interval ``falseRollbackCI``;
* ``power`` (other scenarios): fraction of runs rolled back after the onset, within the horizon;
* ``delayMedianSeconds``, ``delayP90Seconds``, ``delayMedianRequests``: time, and canary
  requests, from the onset to the rollback decision, among the runs that detected;
* ``blastRadiusMean``: mean canary requests served from the onset until the rollback decision (or
  the horizon when never rolled back). In A/A scenarios it is the canary requests served until a
  (false) rollback or the horizon: there, lower means more good releases stopped.

A decision made from second t's data takes effect at the end of that second (t + 1); minute and
5-minute checks take effect at the end of their window.

Replications: ``--quick`` runs 1,000 A/A and 300 other replications per scenario and traffic level
(the full run 10,000 and 2,000), in batches of 1,000, the 36 scenario x traffic levels spread over
worker processes. Each scenario x traffic level has its own random stream, seeded by (seed,
scenario, rps), so the rows depend on the seed only.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import numpy as np
from scipy import signal, special

from launchdeck.core.sequential import MIXTURE, log_evidence, plug_in_increment, plug_in_ratio, rate_ratio_increment

HORIZON = 1800
RPS_LEVELS = (20, 100, 1000)
CANARY_SHARE = 0.05
BASE_ERROR = 0.001
MEDIAN_MS = 40.0
P95_MS = 120.0
Z95 = float(special.ndtri(0.95))
MU = math.log(MEDIAN_MS)
SIGMA = math.log(P95_MS / MEDIAN_MS) / Z95
ALPHA = 0.01
LOG_BOUND = math.log(1.0 / ALPHA)
Z_ALPHA = float(special.ndtri(1.0 - ALPHA))
SLOW_BASE = 0.05  # P(stable latency > its p95)

FLAGGER_INTERVAL = 60
FLAGGER_MAX_ERROR = 0.01
FLAGGER_P95_FACTOR = 1.2
FLAGGER_THRESHOLD = 5
KAYENTA_INTERVAL = 300
KAYENTA_MARGINAL = 75.0
PEEK_INTERVAL = 60
REF_WINDOW = 60
PLUG_IN_HALF_LIFE = 60.0  # seconds: the plug-in's recent sums are halved every minute

DETECTORS = ("flagger", "kayenta", "peeking", "sequential", "oracle")
QUICK_REPS, QUICK_AA_REPS = 300, 1000
FULL_REPS, FULL_AA_REPS = 2000, 10000
BATCH = 1000
MAX_WORKERS = 4
ROW_KEYS = ("detector", "scenario", "rps", "falseRollbackRate", "falseRollbackCI", "power",
            "delayMedianSeconds", "delayP90Seconds", "delayMedianRequests", "blastRadiusMean")

_GH_Z, _GH_W = np.polynomial.hermite_e.hermegauss(96)
_GH_W = _GH_W / _GH_W.sum()


@dataclass(frozen=True)
class Scenario:
    """What differs between canary and stable. ``aa``: no fault (only nuisances, if any)."""

    name: str
    aa: bool = False
    error_to: float = BASE_ERROR
    error_shape: str = "step"  # step | drift | late
    latency_scale: float = 1.0
    latency_sigma: float = SIGMA
    load_swing: float = 0.0
    overdispersion: float = 0.0  # sigma of the canary's per-minute lognormal error-rate factor
    warmup: float = 0.0  # extra latency factor at t = 0
    warmup_tau: float = 60.0

    def onset(self, horizon: int) -> int:
        return horizon // 3 if self.error_shape == "late" else 0

    def load(self, t: np.ndarray) -> np.ndarray:
        return 1.0 + self.load_swing * np.sin(2.0 * np.pi * t / 600.0)

    def error_rate(self, t: np.ndarray, horizon: int) -> np.ndarray:
        t = np.asarray(t, dtype=float)
        if self.error_shape == "drift":
            return BASE_ERROR + (self.error_to - BASE_ERROR) * t / horizon
        if self.error_shape == "late":
            return np.where(t >= self.onset(horizon), self.error_to, BASE_ERROR)
        return np.full(t.shape, self.error_to)

    def log_shift(self, t: np.ndarray) -> np.ndarray:
        """Shift of the canary's log-latency (its scale factor's log) in second t."""
        t = np.asarray(t, dtype=float)
        return math.log(self.latency_scale) + np.log1p(self.warmup * np.exp(-t / self.warmup_tau))


def _tail_sigma(p95_factor: float) -> float:
    return math.log(P95_MS * p95_factor / MEDIAN_MS) / Z95


SCENARIOS: dict[str, Scenario] = {s.name: s for s in (
    Scenario("aa", aa=True),
    Scenario("aa-robust", aa=True, load_swing=0.5, overdispersion=0.3, warmup=0.5, warmup_tau=60.0),
    Scenario("err-0.5", error_to=0.005),
    Scenario("err-1", error_to=0.01),
    Scenario("err-2", error_to=0.02),
    Scenario("err-5", error_to=0.05),
    Scenario("p95+10", latency_scale=1.10),
    Scenario("p95+20", latency_scale=1.20),
    Scenario("p95+50", latency_scale=1.50),
    Scenario("tail+20", latency_sigma=_tail_sigma(1.2)),
    Scenario("drift", error_to=0.02, error_shape="drift"),
    Scenario("late", error_to=0.02, error_shape="late"),
)}
#: Alternatives of the oracle in A/A scenarios: the benchmark's smallest effects.
SMALLEST_ERROR_EFFECT = SCENARIOS["err-0.5"]
SMALLEST_LATENCY_EFFECT = SCENARIOS["p95+10"]


# --- latency distributions -------------------------------------------------------------------

def slow_probability(threshold_log: Any, shift: Any, sigma: float) -> np.ndarray:
    """P(latency > exp(threshold_log)) for a lognormal with log-median MU + shift and ``sigma``."""
    return special.ndtr((MU + np.asarray(shift) - np.asarray(threshold_log)) / sigma)


def order_statistic_quantile(rng: np.random.Generator, n: Any, p: float, *, shift: Any = 0.0,
                             sigma: float = SIGMA) -> np.ndarray:
    """Draw the sample p-quantile (inverse-CDF definition, the ceil(p n)-th smallest) of n lognormal
    latencies, in ms, without drawing the n latencies: F^-1(U_(k)), U_(k) ~ Beta(k, n - k + 1).
    Entries with n = 0 get NaN."""
    n = np.asarray(n, dtype=np.int64)
    k = -((-np.int64(round(p * 1_000_000)) * n) // 1_000_000)  # exact ceil(p n) for p with <= 6 decimals
    u = rng.beta(np.maximum(k, 1), np.maximum(n - k + 1, 1))
    return np.where(n > 0, np.exp(MU + np.asarray(shift) + sigma * special.ndtri(u)), np.nan)


@dataclass(frozen=True)
class _Window:
    """The canary latency distribution over a window of seconds: a mixture of lognormals."""

    shifts: np.ndarray  # log shifts of the seconds
    weights: np.ndarray  # expected share of the window's canary requests
    sigma: float

    @property
    def constant(self) -> bool:
        return bool(np.ptp(self.shifts) < 1e-9)

    def ppf_ms(self, u: np.ndarray) -> np.ndarray:
        z = special.ndtri(u)
        if self.constant:
            return np.exp(MU + float(self.shifts[0]) + self.sigma * z)
        lo, hi = MU + self.shifts.min() - 9 * self.sigma, MU + self.shifts.max() + 9 * self.sigma
        grid = np.linspace(lo, hi, 8001)
        cdf = special.ndtr((grid[:, None] - MU - self.shifts[None, :]) / self.sigma) @ self.weights
        return np.exp(np.interp(u, cdf, grid))

    def mann_whitney_moments(self) -> tuple[float, float, float]:
        """A = P(X_c > X_s), P_ccs = P(X_c > X_s, X_c' > X_s), P_css = P(X_c > X_s, X_c > X_s')."""
        if self.constant and abs(self.shifts[0]) < 1e-12 and abs(self.sigma - SIGMA) < 1e-12:
            return 0.5, 1.0 / 3.0, 1.0 / 3.0
        stable_log = MU + SIGMA * _GH_Z
        g = special.ndtr((MU + self.shifts[None, :] - stable_log[:, None]) / self.sigma) @ self.weights
        auc = float(_GH_W @ g)
        p_ccs = float(_GH_W @ g**2)
        canary_log = MU + self.shifts[:, None] + self.sigma * _GH_Z[None, :]
        f_s = special.ndtr((canary_log - MU) / SIGMA)
        p_css = float(self.weights @ (f_s**2 @ _GH_W))
        return auc, p_ccs, p_css


def _window(scn: Scenario, t0: int, t1: int) -> _Window:
    t = np.arange(t0, t1, dtype=float)
    w = scn.load(t)
    return _Window(scn.log_shift(t), w / w.sum(), scn.latency_sigma)


# --- simulation --------------------------------------------------------------------------------

@dataclass
class _Context:
    """Everything about a scenario x traffic level that does not depend on the replication."""

    scn: Scenario
    rps: float
    horizon: int
    load: np.ndarray  # (T,)
    shift: np.ndarray  # (T,) canary log-latency shift
    error: np.ndarray  # (T,) canary error rate
    oracle_error: np.ndarray  # (T,) the oracle's alternative error rate
    oracle_slow: np.ndarray  # (T,) its alternative probability of > 120 ms
    minutes: list[_Window]
    intervals: list[tuple[float, float, float]]  # Mann-Whitney moments per Kayenta interval
    preroll_load: float  # sum of load over the minute before the start

    @classmethod
    def make(cls, scn: Scenario, rps: float, horizon: int) -> _Context:
        t = np.arange(horizon, dtype=float)
        shift = scn.log_shift(t)
        error = scn.error_rate(t, horizon)
        if scn.aa:
            oracle_error = np.full(horizon, SMALLEST_ERROR_EFFECT.error_to)
            small = SMALLEST_LATENCY_EFFECT
            oracle_slow = np.full(horizon, float(slow_probability(math.log(P95_MS), math.log(small.latency_scale),
                                                                  small.latency_sigma)))
        else:
            # In ``late`` the oracle's alternative is the rate after the onset, at every second.
            oracle_error = np.full(horizon, scn.error_to) if scn.onset(horizon) else error
            oracle_slow = slow_probability(math.log(P95_MS), shift, scn.latency_sigma)
        minutes = [_window(scn, m * FLAGGER_INTERVAL, (m + 1) * FLAGGER_INTERVAL)
                   for m in range(horizon // FLAGGER_INTERVAL)]
        intervals = [_window(scn, j * KAYENTA_INTERVAL, (j + 1) * KAYENTA_INTERVAL).mann_whitney_moments()
                     for j in range(horizon // KAYENTA_INTERVAL)]
        preroll = float(scn.load(np.arange(-REF_WINDOW, 0, dtype=float)).sum())
        return cls(scn, rps, horizon, scn.load(t), shift, error, oracle_error, oracle_slow, minutes, intervals,
                   preroll)


@dataclass
class Streams:
    """Per-second counts of one batch of replications, shape (reps, horizon)."""

    n_c: np.ndarray
    n_s: np.ndarray
    e_c: np.ndarray
    e_s: np.ndarray
    slow_c: np.ndarray  # canary requests slower than the reference (previous minute's stable p95)
    slow_s: np.ndarray  # stable requests slower than the same reference
    slow_c120: np.ndarray  # canary requests slower than the true stable p95 (the oracle's)


def simulate(ctx: _Context, reps: int, rng: np.random.Generator) -> Streams:
    scn, T = ctx.scn, ctx.horizon
    lam = ctx.rps * ctx.load
    n_c = rng.poisson(CANARY_SHARE * lam, size=(reps, T))
    n_s = rng.poisson((1.0 - CANARY_SHARE) * lam, size=(reps, T))
    p_err = np.broadcast_to(ctx.error, (reps, T))
    if scn.overdispersion > 0:
        s = scn.overdispersion
        n_min = -(-T // 60)
        factor = np.exp(s * rng.standard_normal((reps, n_min)) - s * s / 2)
        p_err = np.minimum(p_err * np.repeat(factor, 60, axis=1)[:, :T], 1.0)
    e_c = rng.binomial(n_c, p_err)
    e_s = rng.binomial(n_s, BASE_ERROR)

    # Reference for minute m: stable p95 over minute m - 1 (the pre-roll minute for m = 0).
    n_min = -(-T // REF_WINDOW)
    pad = n_min * REF_WINDOW - T
    per_min = np.pad(n_s, ((0, 0), (0, pad))).reshape(reps, n_min, REF_WINDOW).sum(axis=2)
    preroll = rng.poisson((1.0 - CANARY_SHARE) * ctx.rps * ctx.preroll_load, size=(reps, 1))
    prev = np.concatenate([preroll, per_min[:, :-1]], axis=1)
    ref_ms = order_statistic_quantile(rng, prev, 0.95)
    ref_log = np.log(np.where(np.isnan(ref_ms), P95_MS, ref_ms))  # no stable request: never at these rates
    ref_log_t = np.repeat(ref_log, REF_WINDOW, axis=1)[:, :T]
    p_ref_c = slow_probability(ref_log_t, ctx.shift, scn.latency_sigma)
    p_120_c = np.broadcast_to(slow_probability(math.log(P95_MS), ctx.shift, scn.latency_sigma), (reps, T))
    p_hi = np.minimum(p_ref_c, p_120_c)  # slower than the higher of the two thresholds
    p_lo = np.maximum(p_ref_c, p_120_c)
    c_hi = rng.binomial(n_c, p_hi)
    c_mid = rng.binomial(n_c - c_hi, (p_lo - p_hi) / (1.0 - p_hi))
    ref_lower = p_ref_c >= p_120_c
    slow_c = c_hi + np.where(ref_lower, c_mid, 0)
    slow_c120 = c_hi + np.where(ref_lower, 0, c_mid)
    p_ref_s = np.repeat(slow_probability(ref_log, 0.0, SIGMA), REF_WINDOW, axis=1)[:, :T]
    slow_s = rng.binomial(n_s, p_ref_s)
    return Streams(n_c, n_s, e_c, e_s, slow_c, slow_s, slow_c120)


# --- detectors: each returns the rollback time (s since the start; inf = never) per replication --

def _window_sums(x: np.ndarray, width: int) -> np.ndarray:
    n = x.shape[1] // width
    return x[:, : n * width].reshape(x.shape[0], n, width).sum(axis=2)


def _first(flags: np.ndarray, width: int) -> np.ndarray:
    """Time at the end of the first flagged window (inf if none)."""
    if flags.shape[1] == 0:
        return np.full(flags.shape[0], np.inf)
    hit = flags.any(axis=1)
    return np.where(hit, (flags.argmax(axis=1) + 1) * width, np.inf).astype(float)


def share_test_greater(x_c: np.ndarray, x_s: np.ndarray, n_c: np.ndarray, n_s: np.ndarray) -> np.ndarray:
    """One-sided p-value that the canary's proportion x_c/n_c exceeds the stable's x_s/n_s: the exact
    conditional test, x_c given x_c + x_s events ~ Binomial(x_c + x_s, n_c / (n_c + n_s)) under H0
    (exact for Poisson counts; for binomial counts the conditional law is hypergeometric, slightly
    less dispersed, so it is Fisher's exact test made slightly conservative)."""
    x_c, x_s, n_c, n_s = (np.asarray(a, dtype=float) for a in (x_c, x_s, n_c, n_s))
    q = n_c / np.maximum(n_c + n_s, 1.0)
    ok = (x_c > 0) & (n_c > 0)
    return np.where(ok, special.betainc(np.maximum(x_c, 1.0), x_s + 1.0, q), 1.0)


def detect_flagger(st: Streams, ctx: _Context, rng: np.random.Generator) -> np.ndarray:
    n = _window_sums(st.n_c, FLAGGER_INTERVAL)
    e = _window_sums(st.e_c, FLAGGER_INTERVAL)
    error_fail = (n > 0) & (e > FLAGGER_MAX_ERROR * n)
    k = -((-95 * n) // 100)
    u = rng.beta(np.maximum(k, 1), np.maximum(n - k + 1, 1))
    p95 = np.column_stack([w.ppf_ms(u[:, m]) for m, w in enumerate(ctx.minutes)]) if ctx.minutes else u
    latency_fail = (n > 0) & (p95 > FLAGGER_P95_FACTOR * P95_MS)
    failed = np.cumsum(error_fail | latency_fail, axis=1)
    return _first(failed >= FLAGGER_THRESHOLD, FLAGGER_INTERVAL)


def mann_whitney_z(rng: np.random.Generator, n_c: np.ndarray, n_s: np.ndarray,
                   moments: tuple[float, float, float]) -> np.ndarray:
    """Draw U from its normal approximation (exact mean and variance), standardise under H0."""
    auc, p_ccs, p_css = moments
    n_c, n_s = np.asarray(n_c, dtype=float), np.asarray(n_s, dtype=float)
    var = n_c * n_s * (auc * (1 - auc) + (n_c - 1) * (p_ccs - auc**2) + (n_s - 1) * (p_css - auc**2))
    u = n_c * n_s * auc + np.sqrt(np.maximum(var, 0.0)) * rng.standard_normal(n_c.shape)
    h0_sd = np.sqrt(n_c * n_s * (n_c + n_s + 1) / 12.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(h0_sd > 0, (u - n_c * n_s / 2) / np.where(h0_sd > 0, h0_sd, 1.0), 0.0)


def detect_kayenta(st: Streams, ctx: _Context, rng: np.random.Generator) -> np.ndarray:
    n_c, n_s = _window_sums(st.n_c, KAYENTA_INTERVAL), _window_sums(st.n_s, KAYENTA_INTERVAL)
    e_c, e_s = _window_sums(st.e_c, KAYENTA_INTERVAL), _window_sums(st.e_s, KAYENTA_INTERVAL)
    error_fail = share_test_greater(e_c, e_s, n_c, n_s) < ALPHA
    if ctx.intervals:
        z = np.column_stack([mann_whitney_z(rng, n_c[:, j], n_s[:, j], m) for j, m in enumerate(ctx.intervals)])
    else:
        z = np.zeros(n_c.shape)
    latency_fail = (n_c > 0) & (n_s > 0) & (z > Z_ALPHA)
    score = 100.0 * (2 - error_fail.astype(int) - latency_fail.astype(int)) / 2
    return _first(score < KAYENTA_MARGINAL, KAYENTA_INTERVAL)


def detect_peeking(st: Streams, ctx: _Context, rng: np.random.Generator) -> np.ndarray:
    cum = {k: np.cumsum(_window_sums(getattr(st, k), PEEK_INTERVAL), axis=1)
           for k in ("n_c", "n_s", "e_c", "e_s", "slow_c", "slow_s")}
    error_fail = share_test_greater(cum["e_c"], cum["e_s"], cum["n_c"], cum["n_s"]) < ALPHA
    latency_fail = share_test_greater(cum["slow_c"], cum["slow_s"], cum["n_c"], cum["n_s"]) < ALPHA
    return _first(error_fail | latency_fail, PEEK_INTERVAL)


def _increments(x_c: np.ndarray, x_s: np.ndarray, q: np.ndarray, theta0: float) -> np.ndarray:
    """``rate_ratio_increment``, computed only where there are events when they are sparse (a second
    without events contributes 0 to every alternative)."""
    events = (x_c + x_s) > 0
    if events.mean() > 0.5:
        return rate_ratio_increment(x_c, x_s, q, theta0)
    out = np.zeros(x_c.shape + (len(MIXTURE),))
    out[events] = rate_ratio_increment(x_c[events], x_s[events], q[events], theta0)
    return out


def _recent(x: np.ndarray, forget: float) -> np.ndarray:
    """The plug-in's forgetful sums as the product keeps them, *before* each second's slice is added:
    r_t = forget * r_(t-1) + x_(t-1), r_0 = 0."""
    y = signal.lfilter([1.0], [1.0, -forget], x.astype(float), axis=1)
    return np.concatenate([np.zeros((x.shape[0], 1)), y[:, :-1]], axis=1)


def plug_in_log_lr(x_c: np.ndarray, x_s: np.ndarray, n_c: np.ndarray, n_s: np.ndarray, theta0: float,
                   half_life: float = PLUG_IN_HALF_LIFE) -> np.ndarray:
    """Cumulative log likelihood ratio of the plug-in e-process, per second: each second judged at the
    ratio estimated from the seconds before it (``launchdeck.core.sequential``)."""
    forget = 0.5 ** (1.0 / half_life)
    theta = plug_in_ratio(_recent(x_c, forget), _recent(x_s, forget), _recent(n_c, forget), _recent(n_s, forget),
                          theta0)
    q = n_c / np.maximum(n_c + n_s, 1)
    return np.cumsum(plug_in_increment(x_c, x_s, q, theta, theta0), axis=1)


def detect_sequential(st: Streams, ctx: _Context, rng: np.random.Generator, *, error_theta0: float = 1.0,
                      latency_theta0: float = 1.0, latency_from: int = 0, metrics: Sequence[str] = ("errors", "slow"),
                      chunk: int = 60) -> np.ndarray:
    """launchdeck's evidence on errors and on slow requests, looked at every second, each at
    alpha / 2 as the product splits the release's alpha across its sequential gates.

    The benchmark's detector uses the defaults (theta0 = 1 for both, evidence from t = 0); the
    keywords exist to measure remedies (a minimum effect, a warm-up exclusion) and single metrics.
    The plug-in's log LR is computed for the whole horizon at once (one number per second); the
    mixture's is processed in chunks (memory: reps x chunk x len(MIXTURE)) with running sums, and
    replications that have fired are dropped. ``log_evidence`` is evaluated only where the largest
    of the mixture's alternatives or the plug-in reaches the bound (a necessary condition: an
    average is at most its largest term)."""
    reps, T = st.n_c.shape
    total = st.n_c + st.n_s
    q = st.n_c / np.maximum(total, 1)  # 0 when no traffic: rate_ratio_increment ignores the second
    slow_c, slow_s = st.slow_c, st.slow_s
    if latency_from > 0:
        keep = np.arange(T) >= latency_from
        slow_c, slow_s = slow_c * keep, slow_s * keep
    streams = {"errors": (st.e_c, st.e_s, error_theta0), "slow": (slow_c, slow_s, latency_theta0)}
    streams = {m: streams[m] for m in metrics}
    plug = {m: plug_in_log_lr(x_c, x_s, st.n_c, st.n_s, theta0) for m, (x_c, x_s, theta0) in streams.items()}
    bound = LOG_BOUND + math.log(len(streams))  # as in the product: alpha split evenly across the gates
    det = np.full(reps, np.inf)
    running = {m: np.zeros((reps, len(MIXTURE))) for m in streams}
    active = np.arange(reps)
    for start in range(0, T, chunk):
        if active.size == 0:
            break
        stop = min(T, start + chunk)
        first = np.full(active.size, np.inf)
        for metric, (x_c, x_s, theta0) in streams.items():
            inc = _increments(x_c[active, start:stop], x_s[active, start:stop], q[active, start:stop], theta0)
            cum = np.cumsum(inc, axis=1)
            cum += running[metric][active, None, :]
            running[metric][active] = cum[:, -1, :]
            p = plug[metric][active, start:stop]
            rows, cols = np.nonzero(np.maximum(cum.max(axis=-1), p) >= bound)
            if rows.size:
                hit = log_evidence(cum[rows, cols], p[rows, cols]) >= bound
                np.minimum.at(first, rows[hit], start + cols[hit] + 1.0)
        fired = np.isfinite(first)
        det[active[fired]] = first[fired]
        active = active[~fired]
    return det


def detect_oracle(st: Streams, ctx: _Context, rng: np.random.Generator) -> np.ndarray:
    def llr(x: np.ndarray, n: np.ndarray, p1: np.ndarray, p0: float) -> np.ndarray:
        return x * np.log(p1 / p0) + (n - x) * np.log((1 - p1) / (1 - p0))

    steps = (llr(st.e_c, st.n_c, ctx.oracle_error, BASE_ERROR), llr(st.slow_c120, st.n_c, ctx.oracle_slow, SLOW_BASE))
    per_test = ALPHA / len(steps)  # the same false-rollback budget as the detectors it measures
    if ctx.scn.onset(ctx.horizon) == 0:  # Wald's SPRT from the start
        cross = np.zeros(st.n_c.shape, dtype=bool)
        for step in steps:
            cross |= np.cumsum(step, axis=1) >= math.log(1.0 / per_test)
        return _first(cross, 1)
    # Onset unknown: CUSUM (Page), W_t = S_t - min(0, min_(s<=t) S_s), alarm at log(horizon / alpha).
    threshold = math.log(ctx.horizon / per_test)
    cross = np.zeros(st.n_c.shape, dtype=bool)
    for step in steps:
        total = np.cumsum(step, axis=1)
        cross |= total - np.minimum(np.minimum.accumulate(total, axis=1), 0.0) >= threshold
    return _first(cross, 1)


_DETECT: dict[str, Callable[[Streams, _Context, np.random.Generator], np.ndarray]] = {
    "flagger": detect_flagger, "kayenta": detect_kayenta, "peeking": detect_peeking,
    "sequential": detect_sequential, "oracle": detect_oracle,
}


def simulate_detections(scenario: str | Scenario, rps: float, reps: int, *, horizon: int = HORIZON,
                        seed: int | Sequence[int] = 1,
                        detectors: Sequence[str] = DETECTORS) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Rollback times (s; inf = never) and canary requests served from the onset until then (or the
    horizon), per detector and replication."""
    scn = SCENARIOS[scenario] if isinstance(scenario, str) else scenario
    ctx = _Context.make(scn, rps, horizon)
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    onset = scn.onset(horizon)
    times: dict[str, list[np.ndarray]] = {d: [] for d in detectors}
    served: dict[str, list[np.ndarray]] = {d: [] for d in detectors}
    for start in range(0, reps, BATCH):
        st = simulate(ctx, min(BATCH, reps - start), rng)
        cum = np.concatenate([np.zeros((st.n_c.shape[0], 1), dtype=np.int64), np.cumsum(st.n_c, axis=1)], axis=1)
        for d in detectors:
            t = _DETECT[d](st, ctx, rng)
            end = np.where(np.isfinite(t), np.minimum(t, horizon), horizon).astype(np.int64)
            rows = np.arange(t.size)
            times[d].append(t)
            served[d].append(np.maximum(cum[rows, end] - cum[:, onset], 0))
    return ({d: np.concatenate(v) for d, v in times.items()}, {d: np.concatenate(v) for d, v in served.items()})


# --- summaries -----------------------------------------------------------------------------------

def wilson(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    if n == 0:
        return 0.0, 1.0
    p = k / n
    mid = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, mid - half), min(1.0, mid + half)


def _r(x: float | None, digits: int) -> float | None:
    return None if x is None or not math.isfinite(x) else round(float(x), digits)


def summarise(detector: str, scn: Scenario, rps: float, times: np.ndarray, served: np.ndarray,
              horizon: int) -> dict[str, Any]:
    onset = scn.onset(horizon)
    n = times.size
    row: dict[str, Any] = dict.fromkeys(ROW_KEYS)
    row.update(detector=detector, scenario=scn.name, rps=rps, blastRadiusMean=_r(served.mean(), 1) if n else None)
    if scn.aa:
        k = int((times <= horizon).sum())
        lo, hi = wilson(k, n)
        row.update(falseRollbackRate=_r(k / n, 5) if n else None, falseRollbackCI=[_r(lo, 5), _r(hi, 5)])
        return row
    detected = (times > onset) & (times <= horizon)
    row["power"] = _r(detected.mean(), 4) if n else None
    if detected.any():
        delay = times[detected] - onset
        row.update(delayMedianSeconds=_r(np.median(delay), 1), delayP90Seconds=_r(np.quantile(delay, 0.9), 1),
                   delayMedianRequests=_r(np.median(served[detected]), 1))
    return row


def _cpus() -> int:
    """CPUs this process may use, at most MAX_WORKERS (each worker holds a batch's streams: ~0.3 GB)."""
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        n = os.cpu_count() or 1
    return max(1, min(n, MAX_WORKERS))


def _combo(name: str, rps: float, reps: int, horizon: int, seed: int) -> tuple[list[dict[str, Any]], float]:
    """Rows of one scenario x traffic level, and the seconds they took."""
    began = time.perf_counter()
    scn = SCENARIOS[name]
    times, served = simulate_detections(scn, rps, reps, horizon=horizon,
                                        seed=(seed, list(SCENARIOS).index(name), round(rps)))
    rows = [summarise(d, scn, rps, times[d], served[d], horizon) for d in DETECTORS]
    return rows, time.perf_counter() - began


def run(quick: bool, seed: int = 1, *, reps: int | None = None, aa_reps: int | None = None,
        horizon: int = HORIZON, rps_levels: Sequence[float] = RPS_LEVELS,
        scenarios: Sequence[str] | None = None, workers: int | None = None,
        progress: Callable[[int, int, str], None] | None = None) -> list[dict[str, Any]]:
    """The benchmark's rows: one per detector x scenario x traffic level.

    ``quick``: 1,000 A/A and 300 other replications per scenario and traffic level (else 10,000
    and 2,000). ``reps``/``aa_reps``/``horizon``/``rps_levels``/``scenarios`` shrink it for tests.
    Scenario x traffic levels run in ``workers`` processes (default: one per CPU, at most 4); each
    has its own seed derived from ``seed``, so the rows do not depend on the number of workers.
    ``progress(done, total, message)`` is called after each scenario x traffic level."""
    n_other = reps if reps is not None else (QUICK_REPS if quick else FULL_REPS)
    default_aa = QUICK_AA_REPS if quick else FULL_AA_REPS
    n_aa = aa_reps if aa_reps is not None else (reps if reps is not None else default_aa)
    names = list(scenarios) if scenarios is not None else list(SCENARIOS)
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        raise ValueError(f"unknown scenario(s): {', '.join(unknown)}")
    combos = [(name, rps, n_aa if SCENARIOS[name].aa else n_other) for name in names for rps in rps_levels]
    results: dict[tuple[str, float], list[dict[str, Any]]] = {}

    def report(done: int, name: str, rps: float, n: int, seconds: float) -> None:
        if progress is not None:
            progress(done, len(combos), f"{name} at {rps:g} rps: {n} runs in {seconds:.1f}s")

    n_workers = min(workers if workers is not None else _cpus(), len(combos))
    if n_workers <= 1:
        for done, (name, rps, n) in enumerate(combos, 1):
            results[name, rps], seconds = _combo(name, rps, n, horizon, seed)
            report(done, name, rps, n, seconds)
    else:
        # Largest first (runs x traffic) so that the workers finish together.
        order = sorted(combos, key=lambda c: -c[2] * (c[1] + 50))
        with ProcessPoolExecutor(n_workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = {pool.submit(_combo, name, rps, n, horizon, seed): (name, rps, n) for name, rps, n in order}
            for done, future in enumerate(as_completed(futures), 1):
                name, rps, n = futures[future]
                results[name, rps], seconds = future.result()
                report(done, name, rps, n, seconds)
    return [row for name, rps, _ in combos for row in results[name, rps]]


# --- output ----------------------------------------------------------------------------------------

def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f}%"


def _num(x: float | None, unit: str = "") -> str:
    return "—" if x is None else f"{x:,.0f}{unit}"


def render_table(rows: Sequence[dict[str, Any]], file: Any = None) -> None:
    from rich.console import Console
    from rich.table import Table

    out = file if file is not None else sys.stdout
    console = Console(file=out, width=None if out.isatty() else 140)
    table = Table(title="Detection benchmark: false rollbacks, power, delay from the onset and blast radius "
                        "(canary requests)")
    for col, justify in (("scenario", "left"), ("rps", "right"), ("detector", "left"),
                         ("false rollback [95% CI]", "right"), ("power", "right"), ("delay p50 (s)", "right"),
                         ("delay p90 (s)", "right"), ("delay p50 (req)", "right"), ("blast radius (req)", "right")):
        table.add_column(col, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    previous = None
    for r in rows:
        key = (r["scenario"], r["rps"])
        if previous is not None and key != previous:
            table.add_section()
        previous = key
        fr = r["falseRollbackRate"]
        ci = r["falseRollbackCI"]
        fr_text = "—" if fr is None else f"{_pct(fr)} [{_pct(ci[0])}–{_pct(ci[1])}]"
        table.add_row(r["scenario"], f"{r['rps']:g}", r["detector"], fr_text, _pct(r["power"]),
                      _num(r["delayMedianSeconds"]), _num(r["delayP90Seconds"]),
                      _num(r["delayMedianRequests"]), _num(r["blastRadiusMean"]))
    console.print(table)


def write_chart(rows: Sequence[dict[str, Any]], path: str | Path) -> None:
    """Grouped bars of the mean blast radius per scenario and detector, log scale, a panel per rps."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    levels = sorted({r["rps"] for r in rows})
    scenarios = list(dict.fromkeys(r["scenario"] for r in rows))
    detectors = [d for d in DETECTORS if any(r["detector"] == d for r in rows)]
    value = {(r["detector"], r["scenario"], r["rps"]): r["blastRadiusMean"] for r in rows}
    fig = Figure(figsize=(max(8.0, 1.1 * len(scenarios)), 3.2 * len(levels)), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(levels), 1, squeeze=False)[:, 0]
    width = 0.8 / max(len(detectors), 1)
    x = np.arange(len(scenarios))
    for ax, rps in zip(axes, levels):
        for i, d in enumerate(detectors):
            ys = [value.get((d, s, rps)) for s in scenarios]
            ys = [y if y is not None and y > 0 else np.nan for y in ys]
            ax.bar(x + (i - (len(detectors) - 1) / 2) * width, ys, width, label=d)
        ax.set_yscale("log")
        ax.set_xticks(x, scenarios)
        ax.set_ylabel("canary requests")
        ax.set_title(f"{rps:g} rps total ({CANARY_SHARE * rps:g} canary rps): mean canary requests served from "
                     "the onset to the rollback (or the horizon); in A/A, until a false rollback", fontsize=9)
        ax.grid(axis="y", which="major", alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, ncols=len(detectors), loc="outside upper center", fontsize=9)
    fig.savefig(path, dpi=110)


class _Progress:
    """A line per scenario x traffic level on stderr; a rich progress bar when stderr is a terminal."""

    def __init__(self) -> None:
        self.bar: Any = None
        self.task: Any = None

    def __enter__(self) -> Self:
        if sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                TimeElapsedColumn(), console=Console(file=sys.stderr))
            self.bar.__enter__()
        return self

    def __call__(self, done: int, total: int, message: str) -> None:
        if self.bar is None:
            print(f"[{done}/{total}] {message}", file=sys.stderr, flush=True)
            return
        if self.task is None:
            self.task = self.bar.add_task("detection benchmark", total=total)
        self.bar.console.print(f"[{done}/{total}] {message}")
        self.bar.update(self.task, completed=done)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


def _seed(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("the seed must be a non-negative integer")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="launchdeck bench detection",
                                     description="Offline, seeded detection benchmark of canary judges.")
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK_AA_REPS} A/A and {QUICK_REPS} other runs per scenario and traffic level "
                             f"(default {FULL_AA_REPS} and {FULL_REPS})")
    parser.add_argument("--output", choices=("text", "json"), default="text",
                        help="text: a table; json: one JSON list of rows on stdout")
    parser.add_argument("--chart", default="bench-detection.png", metavar="PATH",
                        help="PNG chart of the blast radius (default: %(default)s; '' for none)")
    parser.add_argument("--seed", type=_seed, default=1, help="non-negative integer (default: %(default)s)")
    args = parser.parse_args(argv)
    began = time.perf_counter()
    with _Progress() as progress:
        rows = run(args.quick, args.seed, progress=progress)
    elapsed = time.perf_counter() - began
    if args.chart:
        write_chart(rows, args.chart)
    if args.output == "json":
        print(json.dumps(rows))
    else:
        render_table(rows)
    chart = f"; chart: {args.chart}" if args.chart else ""
    print(f"detection benchmark: {len(rows)} rows in {elapsed:.1f}s (seed {args.seed}){chart}", file=sys.stderr)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
