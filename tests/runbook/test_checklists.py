from __future__ import annotations

from datetime import UTC, datetime, timedelta

from launchdeck.runbook.checklists import Checklist, blocking, status

START = datetime(2026, 11, 24, 8, 15, tzinfo=UTC)
ROLES = {"launch-commander": {"dana"}, "sre": {"sam", "lee"}}
T1H = Checklist("T-1h", -3600, ("Rollback plan confirmed",), ("launch-commander", "sre"))
T24H = Checklist("T-24h", -86400, ("Staging matches production",), ("sre",))


def test_due_unsigned_checklist_blocks_and_names_who_is_missing() -> None:
    states = status([T1H], planned_start=START, now=START - timedelta(minutes=30), roles=ROLES,
                    signatures=[("T-1h", "launch-commander", "dana")])
    why = blocking(states)
    assert why is not None and "T-1h" in why and "sre (lee, sam)" in why and "dana" not in why


def test_checklist_not_yet_due_does_not_block() -> None:
    states = status([T1H], planned_start=START, now=START - timedelta(hours=2), roles=ROLES, signatures=[])
    assert blocking(states) is None and not states[0].is_due


def test_fully_signed_checklists_let_the_release_start() -> None:
    signatures = [("T-1h", "launch-commander", "dana"), ("T-1h", "sre", "sam"), ("T-24h", "sre", "lee")]
    states = status([T1H, T24H], planned_start=START, now=START, roles=ROLES, signatures=signatures)
    assert blocking(states) is None
    assert states[0].signed == (("launch-commander", "dana"), ("sre", "sam"))
