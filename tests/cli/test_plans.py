"""`launchdeck plans register FILE` and `plans list` against the local store (through a server: tests/server)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]
PLAN = (ROOT / "examples" / "intelgraph-canary.yaml").read_text()


def launchdeck(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LAUNCHDECK_DB": f"sqlite:///{cwd / 'launchdeck.db'}"}
    return subprocess.run([sys.executable, "-m", "launchdeck", *args], cwd=cwd, env=env, capture_output=True, check=False,
                          text=True, timeout=60)


def test_register_keeps_one_version_per_distinct_text_and_list_shows_the_newest(tmp_path: Path) -> None:
    (tmp_path / "plan.yaml").write_text(PLAN)
    first = launchdeck(tmp_path, "plans", "register", "plan.yaml")
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == "plan intelgraph-v0.1.0 (Release) of tenant intelgraph: version 1, from plan.yaml"
    again = launchdeck(tmp_path, "plans", "register", "plan.yaml")
    assert "unchanged (version 1)" in again.stdout, again.stdout
    (tmp_path / "plan.yaml").write_text(PLAN.replace("hold: 20m", "hold: 25m", 1))
    assert "version 2" in launchdeck(tmp_path, "plans", "register", "plan.yaml").stdout
    listed = json.loads(launchdeck(tmp_path, "plans", "list", "--output", "json").stdout)
    assert [(p["name"], p["tenant"], p["kind"], p["version"]) for p in listed] == [
        ("intelgraph-v0.1.0", "intelgraph", "Release", 2)]
    assert "no registered plans of tenant other yet" in launchdeck(tmp_path, "plans", "list", "--tenant", "other").stdout


def test_an_invalid_plan_is_refused_with_its_problems_and_nothing_is_kept(tmp_path: Path) -> None:
    (tmp_path / "plan.yaml").write_text(PLAN.replace("kind: Release", "kind: Releas"))
    refused = launchdeck(tmp_path, "plans", "register", "plan.yaml")
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert "plan.yaml:5: kind: 'Releas' is not allowed here" in refused.stderr, refused.stderr
    assert not (tmp_path / "launchdeck.db").exists()  # refused before the store was opened
