"""`analysis.baseline: same-age`: what it means for gates, and the plans it cannot work with."""

from __future__ import annotations

from pathlib import Path

import pytest

from launchdeck.errors import PlanError
from launchdeck.plan import baseline, load_plan, to_policy
from launchdeck.plan.model import ReleaseSpec

SAME_AGE = """\
apiVersion: launchdeck/v1
kind: Release
metadata: {name: api-v2, version: v2, previousVersion: v1}
spec:
  stages:
    - {weight: 5%, hold: 10m}
    - {weight: 50%, hold: 10m}
    - {weight: 100%, hold: 10m}
  analysis: {baseline: same-age}
  gates:
    - {name: p95, metric: latency_p95_ms, op: ">", threshold: +20%, vs: baseline}
    - {name: errors, metric: error_rate, op: ">", threshold: +0%, vs: stable}
    - {name: errors-2pct, metric: error_rate, op: ">=", threshold: 2%}
"""

HAPROXY = """\
  target:
    router: {type: haproxy, socket: admin.sock, backend: api, servers: {stable: v1, canary: v2}}
    metrics: {type: prometheus, url: "http://127.0.0.1:9090"}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "plan.yaml"
    path.write_text(text)
    return path


def problems(tmp_path: Path, text: str) -> list[tuple[int | None, str, str]]:
    with pytest.raises(PlanError) as caught:
        load_plan(write(tmp_path, text))
    return [(p.line, p.message, p.fix) for p in caught.value.problems]


def spec(**analysis: object) -> ReleaseSpec:
    gates = [{"name": "p95", "metric": "latency_p95_ms", "op": ">", "threshold": "+20%", "vs": "baseline"},
             {"name": "errors", "metric": "error_rate", "op": ">", "threshold": "+0%", "vs": "stable"}]
    return ReleaseSpec.model_validate({"stages": [{"weight": "5%"}, {"weight": "100%"}], "analysis": analysis,
                                       "gates": gates})


def test_gates_vs_baseline_compare_with_the_same_age_baseline_and_vs_stable_with_the_fleet(tmp_path: Path) -> None:
    policy = to_policy(load_plan(write(tmp_path, SAME_AGE)).doc.spec)  # type: ignore[union-attr]
    assert policy.analysis.baseline == "same-age"
    assert {g.name: g.against for g in policy.gates} == {"p95": "baseline", "errors": "stable", "errors-2pct": "stable"}


def test_by_default_vs_baseline_and_vs_stable_both_mean_the_stable_fleet() -> None:
    policy = to_policy(spec())
    assert policy.analysis.baseline == "stable"
    assert {g.against for g in policy.gates} == {"stable"}
    assert {g.test for g in policy.gates} == {"sequential"}


def test_the_baseline_takes_the_canarys_weight_from_the_stable_share() -> None:
    policy = to_policy(spec(baseline="same-age"))
    assert [policy.baseline_weight(w) for w in (0, 5, 50, 100)] == [0, 5, 50, 0]
    assert [policy.stable_weight(w) for w in (0, 5, 50, 100)] == [100, 90, 0, 0]
    assert to_policy(spec()).baseline_weight(5) == 0 and to_policy(spec()).stable_weight(5) == 95


def test_a_stage_above_half_below_all_is_refused_with_same_age(tmp_path: Path) -> None:
    found = problems(tmp_path, SAME_AGE.replace("weight: 50%", "weight: 75%"))
    assert len(found) == 1
    line, message, fix = found[0]
    assert line == 7 and "75%" in message and "more than all the traffic" in message
    assert "at most 50%" in fix and "baseline: stable" in fix


def test_a_real_router_without_a_baseline_server_is_refused(tmp_path: Path) -> None:
    found = problems(tmp_path, SAME_AGE + HAPROXY)
    assert any("third server for the baseline" in m and "servers.baseline" in f for _, m, f in found)
    assert any("cannot tell the baseline from the stable fleet" in m and "labels.baseline" in f for _, m, f in found)
    fixed = (SAME_AGE + HAPROXY).replace("canary: v2}}", "canary: v2, baseline: v1b}}").replace(
        '9090"}', '9090", labels: {baseline: v1-baseline}}')
    assert load_plan(write(tmp_path, fixed)).name == "api-v2"


def test_the_command_router_which_sets_one_weight_is_refused(tmp_path: Path) -> None:
    command = "  target: {router: {type: command, commands: {set: 'set {{weight}}', read: 'read'}}}\n"
    found = problems(tmp_path, SAME_AGE + command)
    assert any("cannot route three ways" in m and "analysis.baseline: stable" in f for _, m, f in found)


def test_a_baseline_server_may_not_be_the_stable_one(tmp_path: Path) -> None:
    text = (SAME_AGE + HAPROXY).replace("canary: v2}}", "canary: v2, baseline: v1}}").replace(
        '9090"}', '9090", labels: {baseline: v1}}')
    found = problems(tmp_path, text)
    assert any("same server as another version" in m for _, m, _ in found)
    assert any("another version's label" in m for _, m, _ in found)


def test_the_same_plan_with_a_stable_baseline_needs_none_of_it(tmp_path: Path) -> None:
    text = (SAME_AGE + HAPROXY).replace("baseline: same-age", "baseline: stable").replace("weight: 50%", "weight: 75%")
    assert load_plan(write(tmp_path, text)).name == "api-v2"


def test_vs_stable_needs_a_relative_threshold(tmp_path: Path) -> None:
    found = problems(tmp_path, SAME_AGE.replace("threshold: +0%, vs: stable", "threshold: 1%, vs: stable"))
    assert any("with `vs: stable` the threshold must be a relative change" in m for _, m, _ in found)


def test_a_baseline_no_gate_uses_and_a_warm_up_it_makes_unneeded_are_warned_about() -> None:
    assert baseline.notes(spec()) == []
    assert baseline.notes(spec(baseline="same-age")) == []
    warm = baseline.notes(spec(baseline="same-age", warmup="4m"))
    assert len(warm) == 1 and "analysis.warmup" in warm[0] and "4m" in warm[0]
    unused = ReleaseSpec.model_validate({"stages": [{"weight": "5%"}], "analysis": {"baseline": "same-age"}})
    assert "no gate compares with it" in baseline.notes(unused)[0]
