"""The chat command grammar on its own: what each line asks for, and a usage answer for what is malformed."""

from __future__ import annotations

import pytest

from launchdeck.chat.grammar import (
    Approve,
    GoNoGo,
    Help,
    Kill,
    Malformed,
    Rollback,
    StartCanary,
    Status,
    Why,
    parse,
)

SEED = "canary v0.1.0 → prod (us-west-2, US-only) steps: 5/25/50/100 kill-switch:gateway-flag"


@pytest.mark.parametrize("text", [SEED, SEED.replace("→", "->"), SEED.replace("→", " -> ").replace("  ", " ")])
def test_the_seeds_approve_line_is_a_canary_start(text: str) -> None:
    assert parse("/approve", text) == StartCanary("v0.1.0", "prod", "us-west-2", "US-only", (5, 25, 50, 100),
                                                   "gateway-flag")


def test_the_canary_line_may_name_its_service_and_comes_through_launchdeck_too() -> None:
    command = parse("/launchdeck", f"approve {SEED} service:intelgraph-api")
    assert isinstance(command, StartCanary) and command.service == "intelgraph-api"


@pytest.mark.parametrize(("text", "problem"), [
    ("canary v0.1.0 → prod steps: 5/25 kill-switch:x", "not in its form"),
    ("canary v0.1.0 → prod (us-west-2, US-only) steps: 25/5/100 kill-switch:x", "steps must rise"),
    ("canary v0.1.0 → prod (us-west-2, US-only) steps: 5/150 kill-switch:x", "not between 0 and 100%"),
])
def test_a_malformed_canary_line_gets_its_usage(text: str, problem: str) -> None:
    command = parse("/approve", text)
    assert isinstance(command, Malformed) and problem in command.problem
    assert command.usage.startswith("/approve canary VERSION → ENV (REGION, RESIDENCY)")


@pytest.mark.parametrize(("command", "text", "expected"), [
    ("/launchdeck", "status", Status()),
    ("/launchdeck", "status shop-v2", Status("shop-v2")),
    ("/launchdeck", "why shop-v2", Why("shop-v2")),
    ("/launchdeck", "approve shop-v2 stage 2", Approve("shop-v2", 2)),
    ("/approve", "shop-v2 stage 2", Approve("shop-v2", 2)),
    ("/launchdeck", "go shop-v2", GoNoGo("shop-v2", "go")),
    ("/launchdeck", "no-go shop-v2", GoNoGo("shop-v2", "no-go")),
    ("/launchdeck", "rollback shop-v2", Rollback("shop-v2")),
    ("/launchdeck", "KILL   shop-v2", Kill("shop-v2")),
    ("/launchdeck", "help", Help()),
    ("/launchdeck", "", Help()),
])
def test_each_command(command: str, text: str, expected: object) -> None:
    assert parse(command, text) == expected


@pytest.mark.parametrize(("text", "problem"), [
    ("approve shop-v2", "needs a release and a stage number"),
    ("rollback", "rollback needs one release name"),
    ("kill a b", "kill needs one release name, not 'a b'"),
    ("deploy everything", "'deploy' is not a launchdeck command"),
    ("status Shop V2!", "is not a release name"),
])
def test_malformed_commands_name_the_problem_and_the_usage(text: str, problem: str) -> None:
    command = parse("/launchdeck", text)
    assert isinstance(command, Malformed) and problem in command.problem and "/launchdeck" in command.usage
