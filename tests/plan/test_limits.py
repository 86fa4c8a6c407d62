"""Bounded input: files and YAML that would cost too much are refused, located, before they do.

A plan over the size limit, a device or a pipe, aliases that expand past the limits ("billion
laughs"), nesting deeper than the limit, an alias inside itself, and values Python cannot build
all end in a PlanError naming the file (and the line, where there is one) with what to do.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from launchdeck.controller.people import read_approvals
from launchdeck.errors import PlanError, UsageError
from launchdeck.plan import load_plan
from launchdeck.plan.limits import MAX_BYTES_ENV
from launchdeck.plan.yamlsrc import load

EXAMPLES = Path(__file__).parents[2] / "examples"


def billion_laughs(levels: int = 10) -> str:
    lines = ['lol0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels):
        lines.append(f"lol{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def only_problem(caught: pytest.ExceptionInfo[PlanError]) -> tuple[int, str, str]:
    assert len(caught.value.problems) == 1, caught.value
    problem = caught.value.problems[0]
    assert problem.fix, problem
    return problem.line, problem.message, problem.fix


def test_aliases_that_expand_past_the_limit_are_refused_at_the_alias() -> None:
    with pytest.raises(PlanError) as caught:
        load(billion_laughs(), "laughs.yaml")
    line, message, fix = only_problem(caught)
    assert line == 5  # lol4 is the first to expand past 20,000 values (9**5)
    assert "more than 20,000 values with aliases expanded" in message
    assert "aliases" in fix


def test_aliases_repeating_long_text_are_refused_past_the_byte_limit() -> None:
    text = "a: &a " + "x" * 300_000 + "\nb: [*a, *a, *a]\n"
    with pytest.raises(PlanError) as caught:
        load(text, "text.yaml")
    line, message, _ = only_problem(caught)
    assert line == 2 and "characters of text with aliases expanded" in message


def test_a_few_aliases_within_the_limits_load_as_shared_values() -> None:
    text = "base: &base {weight: 5%, hold: 10m}\nstages: [*base, *base, {<<: *base, weight: 100%}]\n"
    data = load(text, "ok.yaml").data
    assert data["stages"][0] == {"weight": "5%", "hold": "10m"}
    assert data["stages"][2] == {"weight": "100%", "hold": "10m"}


@pytest.mark.parametrize("text", ["a: " + "[" * 50_000 + "]" * 50_000, "a: " + "{a: " * 5_000 + "1" + "}" * 5_000],
                         ids=["lists", "mappings"])
def test_nesting_deeper_than_the_limit_is_refused_not_a_recursion_error(text: str) -> None:
    with pytest.raises(PlanError) as caught:
        load(text, "deep.yaml")
    line, message, _ = only_problem(caught)
    assert line == 1 and "nested more than 64 levels deep" in message


def test_an_alias_that_makes_a_value_deeper_than_the_limit_is_refused() -> None:
    levels = ["a0: &a0 [x]"] + [f"a{i}: &a{i} [*a{i - 1}]" for i in range(1, 80)]
    with pytest.raises(PlanError) as caught:
        load("\n".join(levels) + "\n", "deep.yaml")
    assert "levels deep with aliases expanded" in only_problem(caught)[1]


def test_an_alias_inside_its_own_value_is_refused() -> None:
    with pytest.raises(PlanError) as caught:
        load("a: &a [1, *a]\n", "loop.yaml")
    line, message, _ = only_problem(caught)
    assert line == 1 and "the alias *a refers to a value it is part of" in message


@pytest.mark.parametrize(("value", "expected"), [
    ("2024-02-30", "'2024-02-30' cannot be read: day is out of range for month"),
    ("1" * 5000, "cannot be read: Exceeds the limit (4300 digits)"),
    ("!!timestamp soon", "'soon' is not a valid timestamp"),
    ("!!bool maybe", "'maybe' is not a valid bool"),
])
def test_a_value_python_cannot_build_is_a_located_problem(value: str, expected: str) -> None:
    with pytest.raises(PlanError) as caught:
        load(f"kind: Release\nwhen: {value}\n", "odd.yaml")
    line, message, fix = only_problem(caught)
    assert line == 2 and expected in message and "quotes" in fix


def test_a_control_character_is_refused_with_its_line() -> None:
    with pytest.raises(PlanError) as caught:
        load("kind: Release\nname: a\x00b\n", "nul.yaml")
    line, message, _ = only_problem(caught)
    assert line == 2 and "#x0000 is not allowed" in message


def test_a_syntax_error_keeps_the_pure_python_parsers_message_and_line() -> None:
    with pytest.raises(PlanError) as caught:
        load("kind: Release\nspec:\n  stages: [a, b\n  gates: []\n", "syntax.yaml")
    assert "not valid YAML" in caught.value.problems[0].message


def test_a_plan_over_the_size_limit_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    plan = tmp_path / "big.yaml"
    plan.write_text("# padding\n" * 120_000)
    with pytest.raises(PlanError) as caught:
        load_plan(plan)
    line, message, fix = only_problem(caught)
    assert line == 0 and message == "the plan is 1,200,000 bytes, over the limit of 1,000,000"
    assert MAX_BYTES_ENV in fix


def test_the_size_limit_can_be_raised_with_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plan = tmp_path / "padded.yaml"
    plan.write_bytes(b"# padding\n" * 120_000 + (EXAMPLES / "intelgraph-canary.yaml").read_bytes())
    monkeypatch.setenv(MAX_BYTES_ENV, "2_000_000")
    assert load_plan(plan).name == "intelgraph-v0.1.0"
    monkeypatch.setenv(MAX_BYTES_ENV, "lots")
    with pytest.raises(UsageError, match="is not a positive whole number of bytes"):
        load_plan(plan)


@pytest.mark.parametrize("kind", ["device", "fifo", "directory"])
def test_what_is_not_a_regular_file_is_refused_without_reading_it(tmp_path: Path, kind: str) -> None:
    if kind == "device":
        path = Path("/dev/zero")
    elif kind == "fifo":
        path = tmp_path / "pipe.yaml"
        os.mkfifo(path)  # nobody writes: reading it would wait forever
    else:
        path = tmp_path
    with pytest.raises(PlanError) as caught:
        load_plan(path)
    _, message, _ = only_problem(caught)
    expected = "the plan is a directory" if kind == "directory" else "the plan is not a regular file"
    assert message.startswith(expected), message


def test_the_approvals_file_is_read_within_the_same_limits(tmp_path: Path) -> None:
    laughs = tmp_path / "approvals.yaml"
    laughs.write_text(billion_laughs())
    with pytest.raises(UsageError) as caught:
        read_approvals(laughs)
    assert f"{laughs}:5: more than 20,000 values" in caught.value.message
    assert "nothing was recorded" in caught.value.message
    with pytest.raises(UsageError, match="the approvals file is not a regular file"):
        read_approvals(Path("/dev/zero"))
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    with pytest.raises(UsageError) as caught:
        read_approvals(empty)
    assert "the file is empty" in caught.value.message and "who: sam" in caught.value.message
