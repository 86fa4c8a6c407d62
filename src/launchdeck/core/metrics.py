"""The metrics every target provides, by name: what a plan's gates may name without defining them.

Apart from ``observation`` (which computes them from counts and histograms) so that checking a plan
does not import the engine's data classes.
"""

#: Metrics every target provides (see the plan contract).
STANDARD_METRICS = (
    "error_rate",
    "latency_p50_ms",
    "latency_p95_ms",
    "latency_p99_ms",
    "throughput_rps",
    "availability",
    "requests",
)
