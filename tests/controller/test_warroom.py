"""The war room wakes a sleeping release exactly when its next status message or escalation is due: a
release ticked only at ``next_at`` (and at its own decisions) says what one ticked every second says."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from launchdeck.controller.warroom import WarRoom
from launchdeck.core.engine import Decision
from launchdeck.core.state import ReleaseState
from launchdeck.plan import load_plan

PLAN = """\
apiVersion: launchdeck/v1
kind: Release
metadata: {name: pay-v2, version: v2, previousVersion: v1}
spec:
  roles: {sre: [sam], lead: [dana]}
  stages: [{weight: 20%, hold: 1h}]
  notifications:
    channels: {room: {type: console}}
  warRoom: {channel: room, cadence: {launching: 7m, incident: 2m}}
  escalation:
    open: {urgent: P2}
    levels:
      P2: [{notify: sre, via: [room]}, {notify: lead, via: [room], within: 5m}]
      P1: [{notify: lead, via: [room]}]
    raise: [{from: P2, to: P1, unresolvedFor: 13m}]
"""
FIRED = Decision(100.0, "gate.fired", "urgent gate latency fired", "gate.fired", "latency", {"severity": "urgent"})
RESOLVED = Decision(2000.0, "rollback.completed", "rolled back", "rollback.completed", "latency")
END = 3000.0


def said(tmp_path: Path, *, sparse: bool) -> list[tuple[float, str, str]]:
    (tmp_path / "plan.yaml").write_text(PLAN)
    room = WarRoom(load_plan(tmp_path / "plan.yaml").doc.spec, {})
    state = replace(ReleaseState(), phase="stage")
    out, t = [], 0.0
    while t <= END:
        given = [d for d in (FIRED, RESOLVED) if d.at == t]
        out += [(t, d.kind, d.reason) for d in room.after(given, state, t, "stage 1/1 at 20%")]
        due = [at for at in (room.next_at(state, t), FIRED.at, RESOLVED.at) if at is not None and at > t]
        t = min(due, default=END + 1) if sparse else t + 1
    return out


def test_a_release_woken_at_next_at_says_what_one_ticked_every_second_says(tmp_path: Path) -> None:
    every_second = said(tmp_path, sparse=False)
    assert said(tmp_path, sparse=True) == every_second
    kinds = [kind for _, kind, _ in every_second]
    assert kinds.count("escalation") == 3 and "incident.resolved" in kinds
    cadence = [t for t, kind, _ in every_second if kind == "status.cadence"]
    assert cadence[:3] == [120.0, 240.0, 360.0]  # every 2 min while the incident is open (counted from 0)
