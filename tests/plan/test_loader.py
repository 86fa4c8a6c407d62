"""Plans: the examples validate; mistakes come back all at once, located, with what to write instead."""

from __future__ import annotations

from pathlib import Path

import pytest

from launchdeck.errors import PlanError
from launchdeck.plan import json_schema, load_plan, to_policy

EXAMPLES = Path(__file__).parents[2] / "examples"
PLANS = sorted(p for p in EXAMPLES.glob("*.yaml") if "approvals" not in p.name)

GOOD = """\
apiVersion: launchdeck/v1
kind: Release
metadata: {name: demo-v1, version: v1}
spec:
  roles: {sre: [sam]}
  stages:
    - {weight: 5%, hold: 10m, approve: [sre]}
    - {weight: 100%, hold: 10m}
  gates:
    - {name: errors, metric: error_rate, op: ">=", threshold: 2%, for: 5m}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "plan.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("plan", PLANS, ids=lambda p: p.name)
def test_every_example_validates(plan: Path) -> None:
    assert load_plan(plan).name


def test_units_are_parsed_into_the_policy(tmp_path: Path) -> None:
    policy = to_policy(load_plan(write(tmp_path, GOOD)).doc.spec)  # type: ignore[union-attr]
    assert policy.stages[0].weight == 5 and policy.stages[0].hold == 600
    assert policy.gates[0].threshold == 0.02 and policy.gates[0].for_seconds == 300


def test_analysis_warmup_is_a_duration_and_defaults_to_none(tmp_path: Path) -> None:
    assert to_policy(load_plan(write(tmp_path, GOOD)).doc.spec).analysis.warmup == 0  # type: ignore[union-attr]
    warm = GOOD.replace("  stages:", "  analysis: {warmup: 3m}\n  stages:")
    assert to_policy(load_plan(write(tmp_path, warm)).doc.spec).analysis.warmup == 180  # type: ignore[union-attr]


def test_each_service_channel_names_what_it_needs(tmp_path: Path) -> None:
    notes = """  notifications:
    channels:
      status: {type: slack}
      hook: {type: webhook}
      oncall: {type: pagerduty}
"""
    with pytest.raises(PlanError) as caught:
        load_plan(write(tmp_path, GOOD + notes))
    problems = [(p.message, p.fix) for p in caught.value.problems]
    assert ("a slack channel needs `webhook`", "add webhook: env:SLACK_WEBHOOK_URL (the incoming webhook's URL, "
            "exported as SLACK_WEBHOOK_URL)") in problems
    assert any(m == "a webhook channel needs `url`" for m, _ in problems)
    assert any(m == "a pagerduty channel needs `routingKey`" and "Events API v2" in f for m, f in problems)


def test_three_mistakes_give_three_located_problems(tmp_path: Path) -> None:
    bad = (GOOD.replace("hold: 10m, approve", "hold: 10 minutes, approve")
               .replace("metric: error_rate", "metric: eror_rate")
               .replace("approve: [sre]", "approve: [sre, security]"))
    with pytest.raises(PlanError) as caught:
        load_plan(write(tmp_path, bad))
    problems = caught.value.problems
    assert len(problems) == 3
    by_line = {p.line: p for p in problems}
    assert set(by_line) == {7, 10}
    assert any("10 minutes" in p.message and "5m" in p.fix for p in problems)
    assert any("eror_rate" in p.message and "error_rate" in p.fix for p in problems)
    assert any("security" in p.message for p in problems)


def test_all_schema_and_rule_problems_are_reported_together(tmp_path: Path) -> None:
    bad = GOOD.replace("op: \">=\"", "op: \"=>\"").replace("kind: Release", "kind: Release\nextra: 1")
    with pytest.raises(PlanError) as caught:
        load_plan(write(tmp_path, bad))
    messages = " ".join(p.message + p.fix for p in caught.value.problems)
    assert "'=>'" in messages and "unknown field 'extra'" in messages


def test_yaml_syntax_error_is_located(tmp_path: Path) -> None:
    with pytest.raises(PlanError) as caught:
        load_plan(write(tmp_path, GOOD.replace("stages:\n", "stages:\n  - {weight: 5%\n")))
    assert caught.value.problems[0].line in (7, 8)


def test_relative_threshold_without_vs_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PlanError) as caught:
        load_plan(write(tmp_path, GOOD.replace("threshold: 2%", "threshold: +20%")))
    assert "vs: baseline" in caught.value.problems[0].fix


def test_secret_written_into_the_plan_is_refused(tmp_path: Path) -> None:
    plan = GOOD + "  notifications:\n    channels:\n      hook: {type: webhook, url: http://x, secret: hunter2}\n"
    with pytest.raises(PlanError) as caught:
        load_plan(write(tmp_path, plan))
    assert "env:" in caught.value.problems[0].fix
    assert "hunter2" not in str(caught.value)


def test_route_keys_named_on_are_not_read_as_booleans(tmp_path: Path) -> None:
    plan = GOOD + ("  notifications:\n    channels: {log: {type: file, path: n.jsonl}}\n"
                   "    routes: [{on: [gate.fired], to: [log]}]\n")
    assert load_plan(write(tmp_path, plan)).doc.spec.notifications.routes[0].on == ["gate.fired"]  # type: ignore[union-attr]


def test_train_services_get_defaults_with_overrides() -> None:
    train = load_plan(EXAMPLES / "media-gateway-train.yaml")
    specs = dict((entry.name, spec) for entry, spec in train.services)
    assert specs["auth-service"].smoke is not None and specs["api-gateway"].smoke is None
    assert len(specs["search-service"].stages) == 4


def test_json_schema_describes_both_kinds() -> None:
    schema = json_schema()
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert "ReleaseDoc" in str(schema) and "TrainDoc" in str(schema)


def test_a_flagd_file_router_needs_its_flag_even_with_a_kill_switch(tmp_path: Path) -> None:
    target = ("  target:\n    router: {type: flag, path: flags.json}\n"
              "    metrics: {type: prometheus, url: \"http://127.0.0.1:9090\"}\n  killSwitch: {flag: my-flag}\n")
    with pytest.raises(PlanError) as caught:
        load_plan(write(tmp_path, GOOD + target))
    assert [(p.path, p.message) for p in caught.value.problems] == [
        ("spec.target.router", "a flag router needs the flag's name")]
    embedded = target.replace(", path: flags.json", "").replace(
        "    metrics: {type: prometheus, url: \"http://127.0.0.1:9090\"}\n", "")
    assert load_plan(write(tmp_path, GOOD + embedded)).name == "demo-v1"


def test_soak_and_checkpoint_criteria_name_a_metric_and_an_absolute_limit(tmp_path: Path) -> None:
    extra = ("  soak: {duration: 1h, criteria: [{metric: eror_rate, op: \"<\", threshold: 1%}]}\n"
             "  postLaunch:\n    checkpoints:\n"
             "      - {name: T+1h, at: 1h, criteria: [{metric: latency_p95_ms, op: \"<\", threshold: +20%}]}\n"
             "      - {name: T+1d, at: 1d, criteria: [{metric: error_rate, op: \"<\", threshold: lots}]}\n")
    with pytest.raises(PlanError) as caught:
        load_plan(write(tmp_path, GOOD + extra))
    problems = {p.path: (p.line, p.message, p.fix) for p in caught.value.problems}
    assert set(problems) == {"spec.soak.criteria[0].metric", "spec.postLaunch.checkpoints[0].criteria[0].threshold",
                             "spec.postLaunch.checkpoints[1].criteria[0].threshold"}
    assert "did you mean 'error_rate'" in problems["spec.soak.criteria[0].metric"][2]
    assert problems["spec.postLaunch.checkpoints[0].criteria[0].threshold"][0] == 14
    assert "no baseline" in problems["spec.postLaunch.checkpoints[0].criteria[0].threshold"][1]
