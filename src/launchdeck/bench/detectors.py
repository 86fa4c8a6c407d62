"""The detection benchmark's detectors: each returns the rollback time (s since the start; inf =
never) per replication.

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

* ``sequential-baseline``: ``sequential`` as a plan with ``analysis.baseline: same-age`` runs it, both
  gates ``vs: baseline``: the same code on the canary's events against a same-age baseline's (a fresh
  copy of stable at the canary's share), slow requests measured against the baseline's p95 of the
  previous minute (none in the first minute). Its error gate divides each increment by the design
  effect (``core/dispersion.py``), as the product's does against a same-age baseline: both sides are
  single instances whose error rates wander. What it costs against ``sequential``: the comparison
  rests on the baseline's requests, about as few as the canary's, instead of the fleet's.
* ``oracle-baseline``: the oracle that, like ``sequential-baseline``, sees only the canary and the
  baseline: it knows the true effect as a ratio of the canary's rates to the baseline's, not the
  baseline's rates themselves. Wald's SPRT (Page's CUSUM in ``late``, as ``oracle``) on the
  conditional likelihood of each second's events: given x events from canary and baseline, the
  canary's are Binomial(x, q theta / (q theta + 1 - q)), q = n_c / (n_c + n_b), theta = 1 healthy
  and the true ratio (or, in A/A, the benchmark's smallest effect) otherwise; for latency the events
  are requests slower than 120 ms. Same budget: alpha / 2 per test.

Proportion tests (``kayenta``, ``peeking``). Error and slow-request proportions are compared with
the exact conditional test (one-sided): given x_c + x_s events, the canary's x_c is
Binomial(x_c + x_s, n_c / (n_c + n_s)) under H0, which is exact for Poisson counts and a close,
slightly conservative version of Fisher's exact test for binomial ones. It is used instead of the
pooled two-proportion z-test because at 1-5 canary requests/s and 0.1% errors the z-test is far
above its nominal level (at 20 rps a single canary error in a 5-minute window gives z = 4.4), which
would charge those detectors with small-sample miscalibration rather than with what they do. At
large counts the two tests agree.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import signal, special

from launchdeck.bench.simulation import (
    BASE_ERROR,
    KAYENTA_INTERVAL,
    P95_MS,
    SLOW_BASE,
    Context,
    Streams,
)
from launchdeck.core import dispersion
from launchdeck.core.sequential import (
    MIXTURE,
    log_evidence,
    plug_in_ratio,
    rate_ratio_increment,
    ratio_log_lr,
)

ALPHA = 0.01
LOG_BOUND = math.log(1.0 / ALPHA)
Z_ALPHA = float(special.ndtri(1.0 - ALPHA))
FLAGGER_INTERVAL = 60
FLAGGER_MAX_ERROR = 0.01
FLAGGER_P95_FACTOR = 1.2
FLAGGER_THRESHOLD = 5
KAYENTA_MARGINAL = 75.0
PEEK_INTERVAL = 60
PLUG_IN_HALF_LIFE = 60.0  # seconds: the plug-in's recent sums are halved every minute

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


def detect_flagger(st: Streams, ctx: Context, rng: np.random.Generator) -> np.ndarray:
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


def detect_kayenta(st: Streams, ctx: Context, rng: np.random.Generator) -> np.ndarray:
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


def detect_peeking(st: Streams, ctx: Context, rng: np.random.Generator) -> np.ndarray:
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


def _blocks(x: np.ndarray, block: int) -> np.ndarray:
    """(reps, T) -> (reps, blocks, block), zero-padded at the end."""
    reps, T = x.shape
    n = -(-T // block)
    return np.pad(x, ((0, 0), (0, n * block - T))).reshape(reps, n, block)


def design_effects(x_c: np.ndarray, x_s: np.ndarray, n_c: np.ndarray, n_s: np.ndarray, theta0: float,
                   wander: float, half_life: float = PLUG_IN_HALF_LIFE) -> np.ndarray:
    """phi per second as ``Evidence.add`` keeps it (``core/dispersion.py``) with one-minute analysis
    windows: the larger of the model's (events of the previous window or of the open one so far, the
    plug-in's recent share) and the one measured from consecutive closed windows' residuals."""
    reps, T = x_c.shape
    block = round(half_life)
    before = [np.cumsum(a, axis=1) - a for a in (x_c, x_s, n_c, n_s)]
    q = n_c / np.maximum(n_c + n_s, 1)
    r, v = dispersion.residual_terms(x_c, x_s, dispersion.share(q, dispersion.centre_ratio(*before, theta0)))
    r_b, v_b = _blocks(r, block).sum(axis=2), _blocks(v, block).sum(axis=2)
    measured = dispersion.measured_effect(np.cumsum((r_b[:, 1:] - r_b[:, :-1]) ** 2, axis=1),
                                          np.cumsum(v_b[:, 1:] + v_b[:, :-1], axis=1))
    measured = np.concatenate([np.ones((reps, 2)), measured[:, :-1]], axis=1)  # known once the pair has closed
    k = _blocks(x_c + x_s, block)
    so_far = (np.cumsum(k, axis=2) - k).reshape(reps, -1)[:, :T]
    previous = np.concatenate([np.zeros((reps, 1)), k.sum(axis=2)[:, :-1]], axis=1)
    events = np.maximum(np.repeat(previous, block, axis=1)[:, :T], so_far)
    forget = 0.5 ** (1.0 / half_life)
    r_c, r_s = _recent(n_c, forget), _recent(n_s, forget)
    theta = plug_in_ratio(_recent(x_c, forget), _recent(x_s, forget), r_c, r_s, theta0)
    pi = dispersion.share(np.where(r_c + r_s > 0, r_c / np.maximum(r_c + r_s, 1e-12), q), theta)
    return np.maximum(np.repeat(measured, block, axis=1)[:, :T], dispersion.model_effect(events, pi, wander))


def plug_in_log_lr(x_c: np.ndarray, x_s: np.ndarray, n_c: np.ndarray, n_s: np.ndarray, theta0: float,
                   half_life: float = PLUG_IN_HALF_LIFE, phi: np.ndarray | float = 1.0) -> np.ndarray:
    """Cumulative log likelihood ratio of the plug-in e-process, per second: each second judged at the
    ratio estimated from the seconds before it (``launchdeck.core.sequential``), divided by ``phi``."""
    forget = 0.5 ** (1.0 / half_life)
    theta = plug_in_ratio(_recent(x_c, forget), _recent(x_s, forget), _recent(n_c, forget), _recent(n_s, forget),
                          theta0)
    q = n_c / np.maximum(n_c + n_s, 1)
    return np.cumsum(ratio_log_lr(x_c, x_s, q, theta, theta0) / phi, axis=1)


def detect_sequential(st: Streams, ctx: Context, rng: np.random.Generator, *, error_theta0: float = 1.0,
                      latency_theta0: float = 1.0, latency_from: int = 0, metrics: Sequence[str] = ("errors", "slow"),
                      error_wander: float = 0.0, chunk: int = 60) -> np.ndarray:
    """launchdeck's evidence on errors and on slow requests, looked at every second, each at
    alpha / 2 as the product splits the release's alpha across its sequential gates.

    The benchmark's detector uses the defaults (theta0 = 1 for both, evidence from t = 0); the
    keywords exist to measure remedies (a minimum effect, a warm-up exclusion) and single metrics.
    ``error_wander`` > 0 divides the error gate's increments by the design effect, as the product does
    for an error gate against a same-age baseline (``core/dispersion.py``).
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
    phis = {m: design_effects(x_c, x_s, st.n_c, st.n_s, theta0, error_wander) if m == "errors" and error_wander > 0
            else None for m, (x_c, x_s, theta0) in streams.items()}
    plug = {m: plug_in_log_lr(x_c, x_s, st.n_c, st.n_s, theta0, phi=1.0 if phis[m] is None else phis[m])
            for m, (x_c, x_s, theta0) in streams.items()}
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
            phi = phis[metric]
            if phi is not None:
                inc /= phi[active, start:stop, None]
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


def detect_oracle(st: Streams, ctx: Context, rng: np.random.Generator) -> np.ndarray:
    def llr(x: np.ndarray, n: np.ndarray, p1: np.ndarray, p0: float) -> np.ndarray:
        return x * np.log(p1 / p0) + (n - x) * np.log((1 - p1) / (1 - p0))

    return _wald_or_page((llr(st.e_c, st.n_c, ctx.oracle_error, BASE_ERROR),
                          llr(st.slow_c120, st.n_c, ctx.oracle_slow, SLOW_BASE)), ctx)


def detect_oracle_baseline(st: Streams, ctx: Context, rng: np.random.Generator) -> np.ndarray:
    q = st.n_c / np.maximum(st.n_c + st.n_b, 1)
    return _wald_or_page((ratio_log_lr(st.e_c, st.e_b, q, ctx.oracle_error_ratio, 1.0),
                          ratio_log_lr(st.slow_c120, st.slow_b120, q, ctx.oracle_slow_ratio, 1.0)), ctx)


def _wald_or_page(steps: tuple[np.ndarray, ...], ctx: Context) -> np.ndarray:
    """The oracles' decision on per-second log likelihood ratios, one per test."""
    per_test = ALPHA / len(steps)  # the same false-rollback budget as the detectors it measures
    if ctx.scn.onset(ctx.horizon) == 0:  # Wald's SPRT from the start
        cross = np.zeros(steps[0].shape, dtype=bool)
        for step in steps:
            cross |= np.cumsum(step, axis=1) >= math.log(1.0 / per_test)
        return _first(cross, 1)
    # Onset unknown: CUSUM (Page), W_t = S_t - min(0, min_(s<=t) S_s), alarm at log(horizon / alpha).
    threshold = math.log(ctx.horizon / per_test)
    cross = np.zeros(steps[0].shape, dtype=bool)
    for step in steps:
        total = np.cumsum(step, axis=1)
        cross |= total - np.minimum(np.minimum.accumulate(total, axis=1), 0.0) >= threshold
    return _first(cross, 1)


DETECTORS = ("flagger", "kayenta", "peeking", "sequential", "oracle", "sequential-baseline", "oracle-baseline")
Detector = Callable[[Streams, Context, np.random.Generator], np.ndarray]


@dataclass(frozen=True)
class SequentialConfig:
    """How the plan configures launchdeck's sequential gates. The defaults are a plan's defaults."""

    warmup: int = 0
    """``analysis.warmup`` in seconds: slow requests count only from then on."""
    error_threshold: float = 0.0
    """The error gate's minimum effect (``threshold: +25%`` is 0.25): theta0 = 1 + it."""


def detector_functions(config: SequentialConfig = SequentialConfig()) -> dict[str, Detector]:
    def sequential(st: Streams, ctx: Context, rng: np.random.Generator) -> np.ndarray:
        return detect_sequential(st, ctx, rng, error_theta0=1.0 + config.error_threshold, latency_from=config.warmup)

    def sequential_baseline(st: Streams, ctx: Context, rng: np.random.Generator) -> np.ndarray:
        return detect_sequential(st.against_baseline(), ctx, rng, error_theta0=1.0 + config.error_threshold,
                                 latency_from=config.warmup, error_wander=dispersion.INSTANCE_WANDER)

    return {"flagger": detect_flagger, "kayenta": detect_kayenta, "peeking": detect_peeking,
            "sequential": sequential, "oracle": detect_oracle, "sequential-baseline": sequential_baseline,
            "oracle-baseline": detect_oracle_baseline}
