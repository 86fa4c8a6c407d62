"""Where a run writes: the plan's relative paths are read from the plan file's folder, wherever
launchdeck starts; a place that cannot be written stops the run before it starts; `run` says where
its release store is."""

from __future__ import annotations

import pytest
from ld_integration import Launchdeck

pytestmark = pytest.mark.integration

# Inside an all-day freeze window: the run is refused at once, yet writes its evidence and messages.
FROZEN_PLAN = """
    apiVersion: launchdeck/v1
    kind: Release
    metadata: {name: places-v2, version: v2}
    spec:
      stages: [{weight: 100%, hold: 1m}]
      preflight:
        freeze: [{from: "00:00", to: "24:00", tz: UTC}]
      notifications:
        channels: {log: {type: file, path: out/messages.jsonl}}
        routes: [{on: [release.completed], to: [log]}]
      evidence: {dir: EVIDENCE_DIR, key: keys/signing.key}
"""


def test_relative_paths_are_read_from_the_plan_folder_not_the_working_directory(ld: Launchdeck) -> None:
    (ld.cwd / "deploy").mkdir()
    ld.write("deploy/places.yaml", FROZEN_PLAN.replace("EVIDENCE_DIR", "evidence/"))
    result = ld("run", "deploy/places.yaml", "--output", "json")
    assert result.returncode == 4, result.explain()
    run = ld.store().require(name="places-v2").id
    assert result.summary["evidence"] == f"deploy/evidence/places-v2.run{run}.bundle.json"
    for written in (result.summary["evidence"], "deploy/keys/signing.key", "deploy/out/messages.jsonl"):
        assert (ld.cwd / written).is_file(), written
    assert not any((ld.cwd / name).exists() for name in ("evidence", "keys", "out"))
    store_line = next(line for line in result.stderr.splitlines() if line.startswith("release store: "))
    if ld.db_url.startswith("sqlite:///"):
        assert store_line == f"release store: {(ld.cwd / 'launchdeck.db').resolve()}"


def test_evidence_folder_that_cannot_be_written_stops_the_run_before_it_starts(ld: Launchdeck) -> None:
    (ld.cwd / "x").write_text("a file, where the plan wants a folder")
    ld.write("places.yaml", FROZEN_PLAN.replace("EVIDENCE_DIR", "x/evidence"))
    result = ld("run", "places.yaml", "--output", "json")
    assert result.returncode == 2, result.explain()
    assert "Traceback" not in result.stderr
    assert "evidence.dir x/evidence: x is a file, not a folder" in result.stderr
    assert ld.release("places-v2") is None
    assert not (ld.cwd / "keys").exists()
