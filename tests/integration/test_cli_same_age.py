"""A baseline of the same age on the local fleet: examples/same-age-baseline.yaml and its variants, once each.

Canary and stable processes are 50% slower at first and warm after three minutes; no `analysis.warmup`.
Judged against a same-age baseline the healthy canary is promoted, judged against the warm fleet it is
rolled back, and a canary also 30% slower is rolled back against the baseline. `bench/same_age.py`
runs each variant several times (the issue's 5 out of 5).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from ld_integration import EXAMPLES, Launchdeck

pytestmark = [pytest.mark.integration, pytest.mark.alone]


def variant(name: str) -> dict[str, Any]:
    data = yaml.safe_load((EXAMPLES / "same-age-baseline.yaml").read_text(encoding="utf-8"))
    if name == "stable":
        data["spec"]["analysis"]["baseline"] = "stable"
    elif name == "slower":
        canary = data["spec"]["target"]["versions"]["canary"]
        canary["latency"] = {k: f"{float(v.removesuffix('ms')) * 1.3:g}ms" for k, v in canary["latency"].items()}
    return data


def run(ld: Launchdeck, name: str) -> tuple[int, dict[str, Any], list[dict[str, Any]]]:
    plan = ld.cwd / f"{name}.yaml"
    plan.write_text(yaml.safe_dump(variant(name), sort_keys=False), encoding="utf-8")
    result = ld("run", plan, "--time-scale", "20", "--output", "json", timeout=180)
    why = ld("why", "checkout-v2", "--all", "--output", "json")
    return result.returncode, result.summary, json.loads(why.stdout)


def test_a_canary_warming_up_like_its_same_age_baseline_is_promoted_and_the_baseline_is_on_record(
        ld: Launchdeck) -> None:
    code, summary, decisions = run(ld, "same-age")
    assert code == 0 and summary["outcome"] == "promoted", summary
    judged = [d["inputs"] for d in decisions if d["kind"] == "evaluation" and d["inputs"].get("baseline")]
    assert judged and any(i["baseline"]["requests"] > 0 for i in judged)
    verdict = next(v for v in judged[-1]["verdicts"] if v["gate"] == "p95-vs-baseline")
    assert set(verdict["samples"]) == {"canary", "baseline"}


def test_the_same_canary_judged_against_the_warm_fleet_is_rolled_back(ld: Launchdeck) -> None:
    code, summary, _ = run(ld, "stable")
    assert code == 3 and summary["firedGate"] == "p95-vs-baseline", summary


def test_a_canary_30_percent_slower_than_its_same_age_baseline_is_rolled_back(ld: Launchdeck) -> None:
    code, summary, decisions = run(ld, "slower")
    assert code == 3 and summary["firedGate"] == "p95-vs-baseline", summary
    fired = next(d for d in decisions if d["kind"] == "gate.fired")
    assert "same-age baseline" in fired["reason"]
