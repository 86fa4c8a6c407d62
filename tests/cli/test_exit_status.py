"""The exit status a script reads: the outcome's code, and 5 for a promotion whose messages did not all go."""

from __future__ import annotations

import pytest

from launchdeck.cli.common import UNDELIVERED_EXIT, exit_code


def _summary(outcome: str | None, left: int) -> dict[str, object]:
    return {"outcome": outcome, "undelivered": {"count": left, "channels": ["war-room"] if left else []}}


@pytest.mark.parametrize("outcome, code", [("promoted", 0), ("rolled_back", 3), ("held", 4), ("refused", 4),
                                           (None, 1)])
def test_everything_delivered_exits_with_the_outcome_code(outcome: str | None, code: int) -> None:
    assert exit_code(_summary(outcome, 0)) == code


def test_a_promotion_with_messages_left_is_not_a_clean_zero() -> None:
    assert exit_code(_summary("promoted", 2)) == UNDELIVERED_EXIT == 5


@pytest.mark.parametrize("outcome, code", [("rolled_back", 3), ("held", 4), ("refused", 4), (None, 1)])
def test_any_other_outcome_keeps_its_code_even_with_messages_left(outcome: str | None, code: int) -> None:
    # A rollback must never read as something milder; the summary's `undelivered` says what is left.
    assert exit_code(_summary(outcome, 2)) == code


def test_a_summary_without_undelivered_is_read_as_all_delivered() -> None:
    assert exit_code({"outcome": "promoted"}) == 0
