"""The summary JSON of a k6 run made elsewhere: ``k6 run --summary-export FILE`` (metrics with their
figures at the top level) or the ``data`` a ``handleSummary`` writes (figures under ``values``).

``http_reqs.count`` is the requests; ``http_req_failed`` (a rate) gives the failures (its ``passes`` are
the failed requests; else ``rate``/``value`` x requests); ``http_req_duration``'s ``med``, ``p(95)``
and ``p(99)`` (when k6 was asked for it) the latencies in milliseconds; ``http_reqs.rate`` the throughput.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from launchdeck.adapters.loadtest import Report
from launchdeck.errors import TargetError
from launchdeck.plan.hooks_model import LoadTestSpec


def read(spec: LoadTestSpec, *, cwd: Path) -> Report:
    assert spec.k6 is not None
    path = cwd / spec.k6
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise TargetError(f"cannot read the k6 summary {path}: {e.strerror or e}",
                          hint="run `k6 run --summary-export FILE script.js` and give FILE") from e
    except ValueError as e:
        raise TargetError(f"the k6 summary {path} is not JSON: {e}", hint="give the file --summary-export wrote") from e
    return parse(document, str(path))


def parse(document: Any, source: str = "k6 summary") -> Report:
    metrics = document.get("metrics") if isinstance(document, dict) else None
    if not isinstance(metrics, dict) or "http_reqs" not in metrics:
        raise TargetError(f"{source} has no http_reqs metric: not a k6 summary of HTTP requests",
                          hint="give the JSON `k6 run --summary-export FILE` writes")
    reqs, failed, duration = (_figures(metrics.get(m)) for m in ("http_reqs", "http_req_failed", "http_req_duration"))
    requests = int(reqs.get("count", 0))
    if "passes" in failed:
        failures = int(failed["passes"])
    else:
        failures = round(float(failed.get("rate", failed.get("value", 0.0))) * requests)
    rps = reqs.get("rate")
    seconds = requests / rps if rps else 0.0
    state = document.get("state") if isinstance(document.get("state"), dict) else {}
    if state.get("testRunDurationMs"):
        seconds = float(state["testRunDurationMs"]) / 1000.0
    return Report("k6", requests, min(failures, requests), seconds, _ms(duration, "med"), _ms(duration, "p(95)"),
                  _ms(duration, "p(99)"), float(rps) if rps is not None else None, {"summary": source})


def _figures(metric: Any) -> dict[str, Any]:
    if not isinstance(metric, dict):
        return {}
    values = metric.get("values")
    return values if isinstance(values, dict) else metric


def _ms(figures: dict[str, Any], key: str) -> float | None:
    value = figures.get(key)
    return float(value) if isinstance(value, int | float) else None
