"""The flag router writes a flagd flag file that the real OpenFeature SDK + flagd file provider
evaluates: weights apply, users are sticky, the kill switch sends everyone to stable, and a
reader never sees half a file."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import threading
from pathlib import Path

import pytest

from launchdeck.adapters.routers import Split
from launchdeck.adapters.routers.flag import (
    FlagRouter,
    binomial_tolerance,
    fraction_weights,
    write_atomically,
)
from launchdeck.errors import TargetError, WeightNotApplied

USERS = [f"user-{i}" for i in range(2000)]


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def canary_users(assignments: dict[str, str], canary: str = "on") -> set[str]:
    return {user for user, variant in assignments.items() if variant == canary}


def test_weights_become_integer_fractional_weights() -> None:
    assert fraction_weights(5) == (95, 5)
    assert fraction_weights(0) == (100, 0)
    assert fraction_weights(100) == (0, 100)
    assert fraction_weights(2.5) == (9750, 250)
    assert fraction_weights(0.01) == (9999, 1)
    assert fraction_weights(0.0001) == (999_999, 1)
    assert binomial_tolerance(0, 500) == pytest.approx(0.1)  # half a user: 0 must be exact
    assert binomial_tolerance(50, 500) > binomial_tolerance(5, 500)


def test_the_file_is_a_flagd_definition_with_fractional_targeting(tmp_path: Path) -> None:
    path = tmp_path / "flags.json"
    run(FlagRouter(path, "canary.enable").set_weight(5))
    document = json.loads(path.read_text())
    assert document["$schema"] == "https://flagd.dev/schema/v0/flags.json"
    assert document["flags"]["canary.enable"] == {
        "state": "ENABLED",
        "variants": {"off": False, "on": True},
        "defaultVariant": "off",
        "targeting": {"fractional": [["off", 95], ["on", 5]]},
    }


@pytest.mark.parametrize("weight", [0, 1, 5, 10, 25, 50, 75, 100, 2.5])
def test_weights_are_applied_as_the_sdk_evaluates_them(tmp_path: Path, weight: float) -> None:
    router = FlagRouter(tmp_path / "flags.json", "canary.enable", verify_sample=1000)

    async def main() -> None:
        await router.set_weight(weight)
        assert router.configured_weight() == pytest.approx(weight)
        assert await router.current_weight() == pytest.approx(weight)
        observed = await router.observed_weight()
        assert abs(observed - weight) <= binomial_tolerance(weight, 1000)
        if weight in (0, 100):
            assert observed == weight  # the ends are exact, not statistical

    run(main())


def test_users_keep_their_variant_as_the_weight_grows(tmp_path: Path) -> None:
    router = FlagRouter(tmp_path / "flags.json", "checkout.v2")

    async def main() -> list[set[str]]:
        sets = []
        for weight in (1, 5, 10, 25, 50, 75, 100):
            await router.set_weight(weight)
            sets.append(canary_users(await router.assignments(USERS)))
        return sets

    sets = run(main())
    for smaller, larger in itertools.pairwise(sets):
        assert smaller <= larger, "a canary user was moved back to stable as the weight grew"
    assert 0 < len(sets[0]) < len(sets[2]) < len(sets[4]) < len(USERS) == len(sets[-1])
    # The same weight twice gives the same users (a deterministic hash, not a coin flip).
    run(router.set_weight(25))
    assert canary_users(run(router.assignments(USERS))) == sets[3]


def test_a_same_age_baseline_is_a_third_variant_read_back_and_sticky_as_both_grow(tmp_path: Path) -> None:
    router = FlagRouter(tmp_path / "flags.json", "api", variants=("stable", "canary", "baseline"))

    async def main() -> list[dict[str, str]]:
        seen = []
        for weight in (5, 20, 50):
            await router.set_weight(weight, weight)
            assert await router.current_split() == Split(weight, weight)
            seen.append(await router.assignments(USERS[:600]))
        await router.set_weight(0)
        seen.append(await router.assignments(USERS[:600]))
        return seen

    at_5, at_20, at_50, rolled_back = run(main())
    assert router.flag_definition(5, baseline_percent=5)["targeting"] == {
        "fractional": [["stable", 90], ["baseline", 5], ["canary", 5]]}
    for smaller, larger in itertools.pairwise((at_5, at_20, at_50)):
        assert all(larger[u] == "canary" for u, v in smaller.items() if v == "canary")
        assert all(larger[u] in ("baseline", "canary") for u, v in smaller.items() if v == "baseline")
    assert 0 < list(at_20.values()).count("baseline") and set(rolled_back.values()) == {"stable"}
    with pytest.raises(TargetError, match="no baseline"):
        run(FlagRouter(tmp_path / "other.json", "api").set_weight(5, 5))


def test_kill_disables_the_flag_and_everyone_gets_stable(tmp_path: Path) -> None:
    path = tmp_path / "flags.json"
    router = FlagRouter(path, "canary.enable")

    async def main() -> None:
        await router.set_weight(50)
        assert canary_users(await router.assignments(USERS))
        await router.kill()
        flag = json.loads(path.read_text())["flags"]["canary.enable"]
        assert flag["state"] == "DISABLED" and flag["defaultVariant"] == "off"
        assert set((await router.assignments(USERS)).values()) == {"off"}
        assert router.configured_weight() == 0.0
        assert await router.current_weight() == 0.0
        await router.set_weight(10)  # a new weight re-enables the flag
        assert json.loads(path.read_text())["flags"]["canary.enable"]["state"] == "ENABLED"
        assert await router.current_weight() == 10.0

    run(main())


def test_drain_sends_new_evaluations_to_stable_with_the_flag_enabled(tmp_path: Path) -> None:
    path = tmp_path / "flags.json"
    router = FlagRouter(path, "canary.enable")
    run(router.set_weight(30))
    run(router.drain())
    assert json.loads(path.read_text())["flags"]["canary.enable"]["state"] == "ENABLED"
    assert set(run(router.assignments(USERS)).values()) == {"off"}
    assert router.type == "flag"


def test_string_variants(tmp_path: Path) -> None:
    router = FlagRouter(tmp_path / "flags.json", "api-version", variants=("blue", "green"))
    run(router.set_weight(40))
    got = run(router.assignments(USERS))
    assert set(got.values()) == {"blue", "green"}
    assert 0.3 < len(canary_users(got, "green")) / len(USERS) < 0.5
    run(router.kill())
    assert set(run(router.assignments(USERS)).values()) == {"blue"}


def test_other_flags_in_the_file_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "flags.json"
    other = {"state": "ENABLED", "variants": {"a": "a", "b": "b"}, "defaultVariant": "b"}
    path.write_text(json.dumps({"flags": {"other": other}, "metadata": {"team": "web"}}))
    run(FlagRouter(path, "canary.enable").set_weight(20))
    document = json.loads(path.read_text())
    assert document["flags"]["other"] == other and document["metadata"] == {"team": "web"}
    assert set(document["flags"]) == {"other", "canary.enable"}


def test_sdk_disagreement_is_weight_not_applied(tmp_path: Path) -> None:
    # Someone made the split bucket on an attribute launchdeck's users do not carry: the file
    # still says 50%, but flagd sends nobody to the canary.
    path = tmp_path / "flags.json"
    router = FlagRouter(path, "canary.enable")
    run(router.set_weight(50))
    document = json.loads(path.read_text())
    document["flags"]["canary.enable"]["targeting"] = {
        "fractional": [{"var": "email"}, ["off", 50], ["on", 50]]
    }
    path.write_text(json.dumps(document))
    assert router.configured_weight() == 50.0
    with pytest.raises(WeightNotApplied) as caught:
        run(router.current_weight())
    assert "50%" in caught.value.message and "0%" in caught.value.message


def test_refuses_bad_weights_and_foreign_files(tmp_path: Path) -> None:
    router = FlagRouter(tmp_path / "flags.json", "f")
    for bad in (-1, 100.5, float("nan"), True):
        with pytest.raises(TargetError):
            run(router.set_weight(bad))
    with pytest.raises(TargetError, match="has no flag"):
        router.configured_weight()
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(TargetError, match="not valid JSON"):
        run(FlagRouter(broken, "f").set_weight(5))
    assert broken.read_text() == "{not json"
    with pytest.raises(TargetError):
        FlagRouter(tmp_path / "x.json", "f", variants=("on", "on"))


def test_writes_are_atomic_for_a_concurrent_reader(tmp_path: Path) -> None:
    path = tmp_path / "flags.json"
    padding = {f"pad-{i}": {"state": "ENABLED", "variants": {"x": "x" * 200}, "defaultVariant": "x"}
               for i in range(300)}  # ~70 KB: many pages, so a torn write would be visible
    path.write_text(json.dumps({"flags": padding}))
    router = FlagRouter(path, "canary.enable")
    stop = threading.Event()
    reads: list[int] = []
    problems: list[str] = []

    def reader() -> None:
        while not stop.is_set():
            try:
                text = path.read_text()
            except FileNotFoundError:
                problems.append("the file was missing")
                continue
            try:
                flags = json.loads(text)["flags"]
            except (json.JSONDecodeError, KeyError) as e:
                problems.append(f"partial file ({len(text)} bytes): {e}")
                continue
            if len(flags) < 300:
                problems.append("flags were lost")
            reads.append(1)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        async def writes() -> None:
            for i in range(150):
                await router.set_weight(i % 101)

        run(writes())
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not problems, problems[:3]
    assert len(reads) > 10
    assert [p.name for p in tmp_path.iterdir()] == ["flags.json"]  # no temporary left behind


def test_a_failed_write_leaves_the_old_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "flags.json"
    write_atomically(path, '{"flags": {}}\n')
    os.chmod(path, 0o640)
    inode = path.stat().st_ino

    def fail(src: str, dst: str) -> None:
        raise OSError("disk on fire")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk on fire"):
        write_atomically(path, '{"flags": {"new": 1}}\n')
    monkeypatch.undo()
    assert path.read_text() == '{"flags": {}}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["flags.json"]
    write_atomically(path, '{"flags": {"new": 1}}\n')
    assert path.stat().st_ino != inode  # replaced, not rewritten in place
    assert path.stat().st_mode & 0o777 == 0o640  # and keeps its permissions


def test_evaluation_problems_are_target_errors(tmp_path: Path) -> None:
    path = tmp_path / "flags.json"
    other = {"state": "ENABLED", "variants": {"a": "a"}, "defaultVariant": "a"}
    path.write_text(json.dumps({"flags": {"other": other}}))
    router = FlagRouter(path, "canary.enable")
    with pytest.raises(TargetError, match="FLAG_NOT_FOUND"):
        run(router.observed_weight())
    flag = {"state": "BROKEN", "variants": {"off": False, "on": True}, "defaultVariant": "off"}
    path.write_text(json.dumps({"flags": {"canary.enable": flag}}))
    with pytest.raises(TargetError, match="Incorrect 'state'"):
        run(router.observed_weight())
    with pytest.raises(TargetError, match="does not exist"):
        run(FlagRouter(tmp_path / "none.json", "f").observed_weight())


def test_relative_router_files_are_read_from_the_plan_folder(tmp_path: Path) -> None:
    from launchdeck.adapters.routers.factory import anchored, build
    from launchdeck.plan.model import RouterSpec

    relative = RouterSpec(type="flag", flag="checkout", path="flags/flags.json")
    assert anchored(relative, tmp_path).path == str(tmp_path / "flags/flags.json")
    router = build(relative, base=tmp_path)
    assert isinstance(router, FlagRouter) and Path(router.path) == tmp_path / "flags/flags.json"
    absolute = RouterSpec(type="haproxy", socket="/run/haproxy/admin.sock", backend="api")
    assert anchored(absolute, tmp_path).socket == "/run/haproxy/admin.sock"
