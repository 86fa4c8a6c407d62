"""The benchmark and the standalone sample service."""

from __future__ import annotations

from typing import Annotated

import typer

from launchdeck.cli.common import (Output, app,
                                   bench_app)


@bench_app.command("detection")
def bench_detection(quick: Annotated[bool, typer.Option("--quick", help="1,000 A/A runs per traffic level (under 2 minutes).")] = False,
                    output: Annotated[Output, typer.Option("--output")] = Output.text,
                    chart: Annotated[str, typer.Option("--chart", help="Where to write the blast-radius chart (PNG); '' for none.")] = "out/bench-detection.png",
                    seed: Annotated[int, typer.Option("--seed")] = 1,
                    warmup: Annotated[str, typer.Option("--warmup", help="Run the sequential judge with this analysis.warmup (e.g. 3m).")] = "0s",
                    error_threshold: Annotated[str, typer.Option("--error-threshold", help="The sequential error gate's minimum effect (e.g. +25%).")] = "+0%") -> None:
    """Simulated canaries: false rollbacks, power, delay and blast radius of each detector."""
    from launchdeck.bench import detection

    argv = ["--output", output.value, "--chart", chart, "--seed", str(seed), "--warmup", warmup,
            "--error-threshold", error_threshold] + (["--quick"] if quick else [])
    raise typer.Exit(detection.main(argv))


@app.command("sample-app", context_settings={"allow_extra_args": False})
def sample_app(port: Annotated[int, typer.Option("--port", min=1, max=65535, help="TCP port, 1-65535.")], version: Annotated[str, typer.Option("--version")],
               error_rate: Annotated[float, typer.Option("--error-rate")] = 0.0,
               latency_median: Annotated[float, typer.Option("--latency-median")] = 40.0,
               latency_p95: Annotated[float, typer.Option("--latency-p95")] = 120.0,
               warmup: Annotated[str, typer.Option("--warmup", help="How long a fresh process is slower (e.g. 3m): 50% at first.")] = "0s") -> None:
    """Run the built-in sample service alone (Prometheus metrics on /metrics)."""
    from launchdeck.local import sample_app as sample

    raise typer.Exit(sample.main(["--port", str(port), "--version", version, "--error-rate", str(error_rate),
                                  "--latency-median", str(latency_median), "--latency-p95", str(latency_p95),
                                  "--warmup", warmup]))


