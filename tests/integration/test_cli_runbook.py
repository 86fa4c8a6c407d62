"""The runbook's human side through the CLI, on real local fleets: trains, refusals, war room, soak, checkpoints."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from ld_integration import cli_env

from launchdeck.plan.yamlsrc import PlanLoader

pytestmark = pytest.mark.integration
EXAMPLES = Path(__file__).parents[2] / "examples"


def launchdeck(*args: str, cwd: Path, db: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """The CLI in ``cwd``, storing its releases at ``db`` (the test's ``cli_db_url``) via LAUNCHDECK_DB."""
    return subprocess.run([sys.executable, "-m", "launchdeck", *args], check=False, cwd=cwd, env=cli_env(db),
                          capture_output=True, text=True, timeout=timeout)


def summary_of(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    return json.loads(done.stdout.strip().splitlines()[-1])


def example(name: str) -> dict[str, Any]:
    return yaml.load((EXAMPLES / name).read_text(), Loader=PlanLoader)  # noqa: S506 - a safe loader


def write(tmp_path: Path, data: dict[str, Any], name: str = "plan.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def short_train(bad_service: str | None = None) -> dict[str, Any]:
    """The media-gateway train with short stages, so its five levels run in well under a minute."""
    train = example("media-gateway-train.yaml")
    train["spec"]["defaults"]["stages"] = [{"weight": "10%", "hold": "2m"}, {"weight": "100%", "hold": "1m"}]
    # A window holds ~1 s of wall time at --time-scale 60: a few canary requests at 10% (more would
    # leave a loaded machine's services held for thin data, which is not what these tests are about).
    train["spec"]["defaults"]["analysis"] = {"interval": "15s", "window": "1m", "minRequests": 3}
    if bad_service:
        entry = next(s for s in train["spec"]["services"] if s["name"] == bad_service)
        entry["target"] = {"versions": {"canary": {"errorRate": "30%"}}}
    return train


def times(summary: dict[str, Any]) -> dict[str, tuple[datetime, datetime]]:
    return {s["name"]: (datetime.fromisoformat(s["startedAt"]), datetime.fromisoformat(s["finishedAt"]))
            for s in summary["services"] if s["startedAt"]}


def test_train_runs_in_dependency_order_with_independent_services_in_parallel(tmp_path: Path, cli_db_url: str) -> None:
    plan = write(tmp_path, short_train())
    # --time-scale 30: each window holds ~2 s of wall time, enough requests for a p95 on a loaded machine
    done = launchdeck("run", str(plan), "--approvals", str(EXAMPLES / "media-gateway-approvals.yaml"),
                      "--time-scale", "30", "--output", "json", cwd=tmp_path, db=cli_db_url)
    assert done.returncode == 0, done.stderr[-2000:]
    summary = summary_of(done)
    assert summary["outcome"] == "promoted"
    t = times(summary)
    assert t["auth-service"][1] <= t["api-gateway"][0] and t["api-gateway"][1] <= t["content-service"][0]
    group_b = ("search-service", "sona-engine", "sync-service")
    assert all(t["content-service"][1] <= t[s][0] for s in group_b)
    assert max(t[s][0] for s in group_b) < min(t[s][1] for s in group_b)  # all three ran at once
    assert all(t[s][1] <= t[c][0] for s in group_b for c in ("playback-service", "mcp-server"))


def test_rolled_back_service_keeps_its_dependents_from_starting(tmp_path: Path, cli_db_url: str) -> None:
    plan = write(tmp_path, short_train(bad_service="content-service"))
    done = launchdeck("run", str(plan), "--approvals", str(EXAMPLES / "media-gateway-approvals.yaml"),
                      "--time-scale", "60", "--output", "json", cwd=tmp_path, db=cli_db_url)
    summary = summary_of(done)
    outcomes = {s["name"]: s["outcome"] for s in summary["services"]}
    assert done.returncode == 3 and summary["outcome"] == "rolled_back"
    assert outcomes["content-service"] == "rolled_back"
    for dependent in ("search-service", "sona-engine", "sync-service", "playback-service", "mcp-server"):
        assert outcomes[dependent] == "not_started"
        assert next(s for s in summary["services"] if s["name"] == dependent)["startedAt"] is None
    assert outcomes["auth-service"] == outcomes["api-gateway"] == "promoted"


def test_train_with_unsigned_checklists_is_refused_naming_who_is_missing(tmp_path: Path, cli_db_url: str) -> None:
    plan = write(tmp_path, short_train())
    done = launchdeck("run", str(plan), "--time-scale", "60", "--output", "json", cwd=tmp_path, db=cli_db_url)
    summary = summary_of(done)
    assert done.returncode == 4 and summary["outcome"] == "refused"
    reason = summary["services"][0]["reason"]
    assert "T-24h" in reason and "engineering-lead (eli)" in reason


def test_release_inside_a_freeze_window_is_refused_naming_the_window(tmp_path: Path, cli_db_url: str) -> None:
    plan = example("intelgraph-canary.yaml")
    plan["spec"]["preflight"]["freeze"] = [{"from": "00:00", "to": "24:00", "tz": "UTC"}]
    done = launchdeck("run", str(write(tmp_path, plan)), "--output", "json", cwd=tmp_path, db=cli_db_url)
    summary = summary_of(done)
    assert done.returncode == 4 and summary["outcome"] == "refused"
    assert "freeze window" in summary["reason"] and "00:00–24:00 UTC" in summary["reason"]
    assert "it ends at" in summary["reason"]


def test_escalation_and_cadence_messages_land_in_their_channels_with_real_values(tmp_path: Path, cli_db_url: str) -> None:
    plan = {
        "apiVersion": "launchdeck/v1", "kind": "Release",
        "metadata": {"name": "esc", "version": "v2", "service": "checkout"},
        "spec": {
            "target": {"load": {"rps": 200}, "versions": {"canary": {"faults": [{"from": "1m", "errorRate": "30%"}]}}},
            "roles": {"lead": ["eli"], "sre": ["sam"], "commander": ["dana"]},
            "stages": [{"weight": "20%", "hold": "10m"}],
            "analysis": {"interval": "10s", "window": "30s", "minRequests": 10},
            "gates": [{"name": "errors", "metric": "error_rate", "op": ">=", "threshold": "5%", "severity": "urgent"}],
            "rollback": {"policy": {"urgent": {"window": "3m", "authority": ["sre"], "default": "rollback"}}},
            "warRoom": {"channel": "war-room", "cadence": {"launching": "1m", "incident": "30s"}},
            "escalation": {"open": {"urgent": "P2"},
                           "levels": {"P1": [{"notify": "commander", "via": ["oncall"], "within": "0m"}],
                                      "P2": [{"notify": "lead", "via": ["oncall"], "within": "0m"}]},
                           "raise": [{"from": "P2", "to": "P1", "unresolvedFor": "2m"}]},
            "notifications": {"channels": {"war-room": {"type": "file", "path": "out/war-room.jsonl"},
                                           "oncall": {"type": "file", "path": "out/oncall.jsonl"}}},
        },
    }
    done = launchdeck("run", str(write(tmp_path, plan)), "--time-scale", "60", "--output", "json", cwd=tmp_path, db=cli_db_url)
    assert done.returncode == 3, done.stderr[-2000:]
    oncall = [json.loads(line) for line in (tmp_path / "out/oncall.jsonl").read_text().splitlines()]
    assert [m["title"].split("(")[-1] for m in oncall] == ["P2)", "P1)"]
    assert "eli" in oncall[0]["text"] and "dana" in oncall[1]["text"] and "%" in oncall[0]["text"]
    room = [json.loads(line) for line in (tmp_path / "out/war-room.jsonl").read_text().splitlines()]
    cadence = [m for m in room if m["event"] == "status.cadence"]
    assert cadence and all("{{" not in m["text"] and "stage 1/1" in m["text"] for m in cadence)
    assert any("canary" in m["text"] and "%" in m["text"] for m in cadence)


def test_failed_soak_check_stops_the_release_before_production_with_the_values(tmp_path: Path, cli_db_url: str) -> None:
    plan = example("staging-flag-rollout.yaml")
    plan["spec"]["target"]["versions"]["canary"]["errorRate"] = "3%"
    plan["spec"]["soak"] = {"duration": "6h", "checks": ["09:00"], "criteria": [{"metric": "error_rate", "op": "<", "threshold": "0.5%"}]}
    plan["spec"]["analysis"]["minRequests"] = 20
    done = launchdeck("run", str(write(tmp_path, plan)), "--time-scale", "1200", "--start-at",
                      "2026-11-23T08:00:00+00:00", "--output", "json", cwd=tmp_path, db=cli_db_url)
    summary = summary_of(done)
    assert done.returncode == 4 and summary["outcome"] == "refused", done.stderr[-2000:]
    assert "soak check" in summary["reason"] and "09:00" in summary["reason"] and "want < 0.5%" in summary["reason"]
    assert summary["stagesPassed"] == 0 and summary["canaryRequests"] == 0  # no user reached the new version


def test_follow_evaluates_post_launch_checkpoints_against_live_numbers(tmp_path: Path, cli_db_url: str) -> None:
    plan = {
        "apiVersion": "launchdeck/v1", "kind": "Release", "metadata": {"name": "follow", "version": "v2"},
        "spec": {
            "target": {"load": {"rps": 200}},
            "stages": [{"weight": "50%", "hold": "5m"}, {"weight": "100%", "hold": "5m"}],
            # A checkpoint reads one window: 30m is 3 s of wall time at --time-scale 600, enough requests even
            # when a loaded machine stalls the load for a moment (a 0.5 s window once held under 20: no data).
            "analysis": {"interval": "1m", "window": "30m", "minRequests": 20},
            "postLaunch": {"checkpoints": [
                {"name": "T+1h", "at": "1h", "criteria": [{"metric": "error_rate", "op": "<", "threshold": "1%"}]},
                {"name": "T+2h", "at": "2h", "criteria": [{"metric": "latency_p95_ms", "op": "<=", "threshold": "20ms"}]}]},
        },
    }
    done = launchdeck("run", str(write(tmp_path, plan)), "--time-scale", "600", "--follow", "--output", "json",
                      cwd=tmp_path, db=cli_db_url)
    summary = summary_of(done)
    assert done.returncode == 0 and summary["outcome"] == "promoted", done.stderr[-2000:]
    results = {c["name"]: c for c in summary["checkpoints"]}
    assert results["T+1h"]["outcome"] == "passed"
    assert results["T+2h"]["outcome"] == "failed" and results["T+2h"]["results"][0]["value"] > 20
