"""`position`: where a release is, as `status` and chat say it, one phrase per phase."""

from __future__ import annotations

from typing import Any

import pytest

from launchdeck.services.reading import position


def status(phase: str | None, stage: int = 1, weight: float = 20.0, outcome: str | None = None,
           waiting: dict[str, Any] | None = None, stages: int | None = 2) -> dict[str, Any]:
    return {"phase": phase, "stage": stage, "stages": stages, "weight": weight, "outcome": outcome,
            "waiting": waiting}


@pytest.mark.parametrize(("s", "said"), [
    (status("starting", weight=0.0), "starting (stage 1/2 next)"),
    (status("stage"), "stage 1/2 at 20%"),
    (status("stage", waiting={"kind": "sign-off"}), "waiting for sign-off at stage 1/2, canary at 20%"),
    (status("deciding", waiting={"kind": "decision"}), "waiting for a decision at stage 1/2, canary at 20%"),
    (status("held", waiting={"kind": "hold"}), "held for lack of data at stage 1/2, canary at 20%"),
    (status("rolling_back", weight=0.0), "rolling back from stage 1/2"),
    (status("done", stage=2, weight=100.0, outcome="promoted"), "promoted at stage 2/2, canary at 100%"),
    (status("done", weight=0.0, outcome="rolled_back"), "rolled back at stage 1/2, canary at 0%"),
])
def test_each_phase_reads_as_a_phrase_without_repeating_stage(s: dict[str, Any], said: str) -> None:
    assert position(s) == said


def test_a_release_from_before_stage_counts_were_kept_names_only_its_stage() -> None:
    assert position(status("stage", stages=None)) == "stage 1 at 20%"
