"""The detection benchmark's simulated request streams.

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

Same-age baseline (``analysis.baseline: same-age``). A fresh copy of the stable version starts with
the canary and serves as many requests: n_b ~ Poisson(0.05 * rps * load(t)), errors
~ Binomial(n_b, 0.1%), lognormal latency like stable's. It is a fresh single instance like the
canary, so in ``aa-robust`` it warms up exactly like the canary (latency x (1 + 0.5 exp(-t / 60 s)))
and its error rate has its own per-minute over-dispersion factor; the scenarios' effects are the
canary's alone. Its slow-request tests take as reference the baseline's own p95 over the previous
minute (an order-statistic draw from its window), as the product's same-age gates do; in the first
minute, when it has none yet, the stable fleet's (any reference fixed before the slice keeps the test
valid: under the null no threshold makes a slow request likelier to come from the canary). The stable fleet's streams are those of the other
detectors (a baseline would take its 5% from them; no detector reading the baseline reads them).

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
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from scipy import special

HORIZON = 1800
RPS_LEVELS = (20, 100, 1000)
CANARY_SHARE = 0.05
BASE_ERROR = 0.001
MEDIAN_MS = 40.0
P95_MS = 120.0
Z95 = float(special.ndtri(0.95))
MU = math.log(MEDIAN_MS)
SIGMA = math.log(P95_MS / MEDIAN_MS) / Z95
SLOW_BASE = 0.05  # P(stable latency > its p95)
MINUTE = 60  # Flagger's checks and the sequential judge's slow-request reference: a minute
KAYENTA_INTERVAL = 300
REF_WINDOW = 60

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
        return math.log(self.latency_scale) + self.baseline_shift(t)

    def baseline_shift(self, t: np.ndarray) -> np.ndarray:
        """Shift of the same-age baseline's log-latency in second t: the warm-up, which it shares with the
        canary (a fresh instance), without the canary's effect."""
        t = np.asarray(t, dtype=float)
        return np.log1p(self.warmup * np.exp(-t / self.warmup_tau))


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
class Window:
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


def window_of(scn: Scenario, t0: int, t1: int, *, baseline: bool = False) -> Window:
    """The canary's latency over seconds [t0, t1), or with ``baseline`` the same-age baseline's."""
    t = np.arange(t0, t1, dtype=float)
    w = scn.load(t)
    if baseline:
        return Window(scn.baseline_shift(t), w / w.sum(), SIGMA)
    return Window(scn.log_shift(t), w / w.sum(), scn.latency_sigma)


# --- simulation --------------------------------------------------------------------------------

@dataclass
class Context:
    """Everything about a scenario x traffic level that does not depend on the replication."""

    scn: Scenario
    rps: float
    horizon: int
    load: np.ndarray  # (T,)
    shift: np.ndarray  # (T,) canary log-latency shift
    error: np.ndarray  # (T,) canary error rate
    oracle_error: np.ndarray  # (T,) the oracle's alternative error rate
    oracle_slow: np.ndarray  # (T,) its alternative probability of > 120 ms
    baseline_shift: np.ndarray  # (T,) same-age baseline log-latency shift (its warm-up)
    oracle_error_ratio: np.ndarray  # (T,) oracle-baseline's alternative: canary / baseline error rate
    oracle_slow_ratio: np.ndarray  # (T,) and canary / baseline probability of > 120 ms
    minutes: list[Window]
    baseline_minutes: list[Window]  # the same-age baseline's latency per minute
    intervals: list[tuple[float, float, float]]  # Mann-Whitney moments per Kayenta interval
    preroll_load: float  # sum of load over the minute before the start

    @classmethod
    def make(cls, scn: Scenario, rps: float, horizon: int) -> Context:
        t = np.arange(horizon, dtype=float)
        shift, baseline_shift = scn.log_shift(t), scn.baseline_shift(t)
        error = scn.error_rate(t, horizon)
        if scn.aa:
            oracle_error = np.full(horizon, SMALLEST_ERROR_EFFECT.error_to)
            small = SMALLEST_LATENCY_EFFECT
            oracle_slow = np.full(horizon, float(slow_probability(math.log(P95_MS), math.log(small.latency_scale),
                                                                  small.latency_sigma)))
            # Seeing only the baseline, the oracle knows the smallest effects as ratios to it.
            oracle_error_ratio = oracle_error / BASE_ERROR
            oracle_slow_ratio = oracle_slow / SLOW_BASE
        else:
            # In ``late`` the oracle's alternative is the rate after the onset, at every second.
            oracle_error = np.full(horizon, scn.error_to) if scn.onset(horizon) else error
            oracle_slow = slow_probability(math.log(P95_MS), shift, scn.latency_sigma)
            oracle_error_ratio = oracle_error / BASE_ERROR
            oracle_slow_ratio = oracle_slow / slow_probability(math.log(P95_MS), baseline_shift, SIGMA)
        minutes = [window_of(scn, m * MINUTE, (m + 1) * MINUTE)
                   for m in range(horizon // MINUTE)]
        baseline_minutes = [window_of(scn, m * MINUTE, (m + 1) * MINUTE, baseline=True)
                            for m in range(horizon // MINUTE)]
        intervals = [window_of(scn, j * KAYENTA_INTERVAL, (j + 1) * KAYENTA_INTERVAL).mann_whitney_moments()
                     for j in range(horizon // KAYENTA_INTERVAL)]
        preroll = float(scn.load(np.arange(-REF_WINDOW, 0, dtype=float)).sum())
        return cls(scn, rps, horizon, scn.load(t), shift, error, oracle_error, oracle_slow, baseline_shift,
                   oracle_error_ratio, oracle_slow_ratio, minutes, baseline_minutes, intervals, preroll)


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
    n_b: np.ndarray  # same-age baseline requests
    e_b: np.ndarray
    slow_cb: np.ndarray  # canary requests slower than the baseline's reference (its previous minute's p95)
    slow_b: np.ndarray  # baseline requests slower than the same reference
    slow_b120: np.ndarray  # baseline requests slower than 120 ms (oracle-baseline's)

    def against_baseline(self) -> Streams:
        """The streams as a detector comparing the canary with the same-age baseline reads them: the
        baseline in the stable fleet's place."""
        return replace(self, n_s=self.n_b, e_s=self.e_b, slow_c=self.slow_cb, slow_s=self.slow_b)


def _overdispersed(rng: np.random.Generator, p: np.ndarray, sigma: float) -> np.ndarray:
    """An error rate multiplied, each minute, by a mean-1 lognormal factor exp(sigma Z - sigma^2 / 2)."""
    reps, T = p.shape
    n_min = -(-T // 60)
    factor = np.exp(sigma * rng.standard_normal((reps, n_min)) - sigma * sigma / 2)
    return np.minimum(p * np.repeat(factor, 60, axis=1)[:, :T], 1.0)


def simulate(ctx: Context, reps: int, rng: np.random.Generator) -> Streams:
    scn, T = ctx.scn, ctx.horizon
    lam = ctx.rps * ctx.load
    n_c = rng.poisson(CANARY_SHARE * lam, size=(reps, T))
    n_s = rng.poisson((1.0 - CANARY_SHARE) * lam, size=(reps, T))
    p_err = np.broadcast_to(ctx.error, (reps, T))
    if scn.overdispersion > 0:
        p_err = _overdispersed(rng, p_err, scn.overdispersion)
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
    return Streams(n_c, n_s, e_c, e_s, slow_c, slow_s, slow_c120, *_baseline(ctx, rng, n_c, lam, ref_log))


def _baseline(ctx: Context, rng: np.random.Generator, n_c: np.ndarray, lam: np.ndarray,
              stable_ref_log: np.ndarray) -> tuple[np.ndarray, ...]:
    """The same-age baseline's streams: requests, errors, and slow requests of canary and baseline against
    the baseline's previous-minute p95 (the fleet's in the first minute), and the baseline's above 120 ms."""
    scn, (reps, T) = ctx.scn, n_c.shape
    n_b = rng.poisson(CANARY_SHARE * lam, size=(reps, T))
    p_err = np.full((reps, T), BASE_ERROR)
    if scn.overdispersion > 0:  # a single fresh instance, like the canary: its own factor
        p_err = _overdispersed(rng, p_err, scn.overdispersion)
    e_b = rng.binomial(n_b, p_err)
    n_min = -(-T // REF_WINDOW)
    pad = n_min * REF_WINDOW - T
    per_min = np.pad(n_b, ((0, 0), (0, pad))).reshape(reps, n_min, REF_WINDOW).sum(axis=2)
    # The baseline's own p95 of the previous minute; in the first minute, the stable fleet's of the minute
    # before (the product's same-age gates fall back on the fleet's last window until the baseline has one).
    ref_log = np.full((reps, n_min), np.nan)
    ref_log[:, 0] = stable_ref_log[:, 0]
    for m in range(1, n_min):
        n = per_min[:, m - 1]
        k = -((-95 * n) // 100)
        u = rng.beta(np.maximum(k, 1), np.maximum(n - k + 1, 1))
        ref_log[:, m] = np.where(n > 0, np.log(ctx.baseline_minutes[m - 1].ppf_ms(u)), np.nan)
    ref_log = np.where(np.isnan(ref_log), stable_ref_log, ref_log)  # no baseline request: never at these rates
    ref_t = np.repeat(ref_log, REF_WINDOW, axis=1)[:, :T]
    slow_cb = rng.binomial(n_c, slow_probability(ref_t, ctx.shift, scn.latency_sigma))
    slow_b = rng.binomial(n_b, slow_probability(ref_t, ctx.baseline_shift, SIGMA))
    p_120 = np.broadcast_to(slow_probability(math.log(P95_MS), ctx.baseline_shift, SIGMA), (reps, T))
    return n_b, e_b, slow_cb, slow_b, rng.binomial(n_b, p_120)
