"""What a release waits for from people: the sign-off, decision or hold, its deadline and the command."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from launchdeck.core.policy import Analysis, DecisionPolicy, Policy, Stage
from launchdeck.core.state import DecisionWindow, ReleaseState
from launchdeck.runbook import waiting as wait

POLICY = Policy(stages=(Stage(5, 600), Stage(25, 1200, approve=("product-owner", "sre"))),
                analysis=Analysis(hold_timeout=1800),
                urgent=DecisionPolicy(600, ("launch-commander",), "rollback"),
                roles={"product-owner": frozenset({"priya"}), "sre": frozenset({"sam"}),
                       "launch-commander": frozenset({"dana"})})
# 2026-02-03 14:00:00 UTC
WALL_NOW = datetime(2026, 2, 3, 14, 0, tzinfo=UTC).timestamp()


def ready_for_signoff(**changes: object) -> ReleaseState:
    return replace(ReleaseState(phase="stage", stage=1, stage_started_at=1000.0, weight=25, approval_requested=True),
                   **changes)


def test_a_stage_ready_to_pass_waits_for_the_roles_that_have_not_signed() -> None:
    w = wait.waiting_for(POLICY, ready_for_signoff(), now=2300.0, signoffs=frozenset({(1, "sre")}))
    assert w is not None and w.kind == "sign-off" and w.roles == ("product-owner",) and w.stage == 2
    assert w.deadline == 1000.0 + 1200 + 1800  # the hold, then the hold timeout
    assert w.command("rel") == "launchdeck approve rel --stage 2 --role product-owner --as NAME"


def test_a_stage_still_in_its_hold_or_fully_signed_waits_for_nobody() -> None:
    assert wait.waiting_for(POLICY, ready_for_signoff(approval_requested=False), now=1500.0) is None
    signed = frozenset({(1, "sre"), (1, "product-owner")})
    assert wait.waiting_for(POLICY, ready_for_signoff(), now=2300.0, signoffs=signed) is None


def test_an_open_decision_window_waits_for_its_authority_until_it_closes() -> None:
    window = DecisionWindow("p95", "urgent", 100.0, 700.0, "rollback", ("launch-commander", "senior-engineer"), "slow")
    state = ReleaseState(phase="deciding", stage=0, weight=5, window=window)
    w = wait.waiting_for(POLICY, state, now=200.0)
    assert w is not None and (w.kind, w.gate, w.deadline, w.then) == ("decision", "p95", 700.0, "rollback")
    assert w.command("rel") == ("launchdeck approve rel --decision continue|rollback "
                                "--role launch-commander|senior-engineer --as NAME")


def test_a_hold_for_lack_of_data_waits_for_any_role_until_the_hold_timeout() -> None:
    w = wait.waiting_for(POLICY, ReleaseState(phase="held", held_since=500.0), now=600.0)
    assert w is not None and w.kind == "hold" and w.deadline == 2300.0 and w.then == "the run ends held"


def test_the_deadline_is_said_in_wall_clock_time_scaled_from_plan_time() -> None:
    w = wait.waiting_for(POLICY, ready_for_signoff(), now=2300.0)
    assert w is not None
    # 1700 plan seconds left at time scale 10: 170 wall seconds, 14:02:50.
    at = wait.to_wall(w.deadline or 0, now=2300.0, time_scale=10, wall_now=WALL_NOW)
    line = wait.describe(w, "rel", deadline_wall=at, wall_now=WALL_NOW)
    assert line == ("waiting for sign-off from product-owner and sre (stage 2) — deadline 14:02 UTC (in 3 min), "
                    "then the run ends held — run: launchdeck approve rel --stage 2 --role product-owner|sre --as NAME")


def test_a_deadline_on_another_day_carries_its_date() -> None:
    assert wait.clock(WALL_NOW + 86400 * 2, WALL_NOW) == "2026-02-05 14:00 UTC (in 48 h)"
    assert wait.clock(WALL_NOW - 5, WALL_NOW) == "13:59 UTC (passed)"


def test_hold_left_counts_down_to_zero() -> None:
    state = ReleaseState(phase="stage", stage=0, stage_started_at=100.0)
    assert wait.hold_left(POLICY, state, 400.0) == 300.0
    assert wait.hold_left(POLICY, state, 1000.0) == 0.0


def test_a_wait_kept_in_the_store_reads_back_the_same() -> None:
    w = wait.waiting_for(POLICY, ready_for_signoff(), now=2300.0)
    assert w is not None and wait.Waiting.from_json(w.to_json("rel")) == w
