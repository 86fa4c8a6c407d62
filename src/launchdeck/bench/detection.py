"""Detection benchmark: how fast, and how safely, each canary judge catches a bad canary.

Offline, seeded and vectorised (NumPy): every detector is run on the same simulated streams, many
replications at once. ``run`` returns one row per detector x scenario x traffic level; ``main`` is
the command line (``launchdeck bench detection``).

The simulation is ``launchdeck.bench.simulation``, the detectors ``launchdeck.bench.detectors``.

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

``--warmup`` and ``--error-threshold`` run the sequential judge as a plan configured with
``analysis.warmup`` and an error gate's minimum effect would; the defaults are a plan's defaults.
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
from pathlib import Path
from typing import Any, Self

import numpy as np

from launchdeck.bench.detectors import DETECTORS, SequentialConfig, detector_functions
from launchdeck.bench.simulation import CANARY_SHARE, HORIZON, RPS_LEVELS, SCENARIOS, Context, Scenario, simulate
from launchdeck.plan import units

QUICK_REPS, QUICK_AA_REPS = 300, 1000
FULL_REPS, FULL_AA_REPS = 2000, 10000
BATCH = 1000
MAX_WORKERS = 4
ROW_KEYS = ("detector", "scenario", "rps", "falseRollbackRate", "falseRollbackCI", "power",
            "delayMedianSeconds", "delayP90Seconds", "delayMedianRequests", "blastRadiusMean")


def simulate_detections(scenario: str | Scenario, rps: float, reps: int, *, horizon: int = HORIZON,
                        seed: int | Sequence[int] = 1, detectors: Sequence[str] = DETECTORS,
                        sequential: SequentialConfig = SequentialConfig(),
                        ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Rollback times (s; inf = never) and canary requests served from the onset until then (or the
    horizon), per detector and replication."""
    detect = detector_functions(sequential)
    scn = SCENARIOS[scenario] if isinstance(scenario, str) else scenario
    ctx = Context.make(scn, rps, horizon)
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    onset = scn.onset(horizon)
    times: dict[str, list[np.ndarray]] = {d: [] for d in detectors}
    served: dict[str, list[np.ndarray]] = {d: [] for d in detectors}
    for start in range(0, reps, BATCH):
        st = simulate(ctx, min(BATCH, reps - start), rng)
        cum = np.concatenate([np.zeros((st.n_c.shape[0], 1), dtype=np.int64), np.cumsum(st.n_c, axis=1)], axis=1)
        for d in detectors:
            t = detect[d](st, ctx, rng)
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


def _combo(name: str, rps: float, reps: int, horizon: int, seed: int,
           sequential: SequentialConfig) -> tuple[list[dict[str, Any]], float]:
    """Rows of one scenario x traffic level, and the seconds they took."""
    began = time.perf_counter()
    scn = SCENARIOS[name]
    times, served = simulate_detections(scn, rps, reps, horizon=horizon, sequential=sequential,
                                        seed=(seed, list(SCENARIOS).index(name), round(rps)))
    rows = [summarise(d, scn, rps, times[d], served[d], horizon) for d in DETECTORS]
    return rows, time.perf_counter() - began


def run(quick: bool, seed: int = 1, *, reps: int | None = None, aa_reps: int | None = None,
        horizon: int = HORIZON, rps_levels: Sequence[float] = RPS_LEVELS,
        scenarios: Sequence[str] | None = None, workers: int | None = None,
        progress: Callable[[int, int, str], None] | None = None,
        sequential: SequentialConfig = SequentialConfig()) -> list[dict[str, Any]]:
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
            results[name, rps], seconds = _combo(name, rps, n, horizon, seed, sequential)
            report(done, name, rps, n, seconds)
    else:
        # Largest first (runs x traffic) so that the workers finish together.
        order = sorted(combos, key=lambda c: -c[2] * (c[1] + 50))
        with ProcessPoolExecutor(n_workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = {pool.submit(_combo, name, rps, n, horizon, seed, sequential): (name, rps, n)
                       for name, rps, n in order}
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
    Path(path).parent.mkdir(parents=True, exist_ok=True)  # the default, out/, is made on first use
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


def _duration(text: str) -> int:
    try:
        value = units.parse_duration(float(text) if text.replace(".", "", 1).isdigit() else text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return round(value)


def _ratio(text: str) -> float:
    try:
        value = units.parse_ratio(text.lstrip("+"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if value < 0:
        raise argparse.ArgumentTypeError("the minimum effect cannot be negative")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="launchdeck bench detection",
                                     description="Offline, seeded detection benchmark of canary judges.")
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK_AA_REPS} A/A and {QUICK_REPS} other runs per scenario and traffic level "
                             f"(default {FULL_AA_REPS} and {FULL_REPS})")
    parser.add_argument("--output", choices=("text", "json"), default="text",
                        help="text: a table; json: one JSON list of rows on stdout")
    parser.add_argument("--chart", default="out/bench-detection.png", metavar="PATH",
                        help="PNG chart of the blast radius (default: %(default)s; '' for none)")
    parser.add_argument("--seed", type=_seed, default=1, help="non-negative integer (default: %(default)s)")
    parser.add_argument("--warmup", type=_duration, default=0, metavar="DURATION",
                        help="the sequential judge as a plan with analysis.warmup set to this (e.g. 3m): latency "
                             "is judged only after it (default: 0, a plan's default)")
    parser.add_argument("--error-threshold", type=_ratio, default=0.0, metavar="PERCENT",
                        help="the sequential error gate's minimum effect, as a plan's threshold (e.g. +25%%; "
                             "default: +0%%, a plan's usual non-regression gate)")
    args = parser.parse_args(argv)
    sequential = SequentialConfig(warmup=args.warmup, error_threshold=args.error_threshold)
    began = time.perf_counter()
    with _Progress() as progress:
        rows = run(args.quick, args.seed, progress=progress, sequential=sequential)
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
