"""The demo succeeds when it demonstrates: the bad canary rolled back, the good one promoted."""

from __future__ import annotations

from launchdeck.demo import demonstrated


def test_bad_canary_rolled_back_is_the_demo_working() -> None:
    line, ok = demonstrated("bad", "rolled_back")
    assert ok and line == "demo: as designed, the bad canary was rolled back"


def test_good_canary_promoted_is_the_demo_working() -> None:
    assert demonstrated("good", "promoted")[1]


def test_bad_canary_promoted_is_the_demo_failing() -> None:
    line, ok = demonstrated("bad", "promoted")
    assert not ok and "should have been rolled back, but the release ended promoted" in line


def test_good_canary_rolled_back_or_held_is_the_demo_failing() -> None:
    assert not demonstrated("good", "rolled_back")[1]
    assert not demonstrated("good", "held")[1]
    assert "ended without an outcome" in demonstrated("good", None)[0]


def test_the_stack_demos_same_age_plan_routes_three_ways_and_validates(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from types import SimpleNamespace

    import yaml

    from launchdeck.demo.stack import _versions, stack_plan
    from launchdeck.plan import load_plan

    assert set(_versions("good", "same-age")) == {"stable", "canary", "baseline"}
    assert set(_versions("good")) == {"stable", "canary"}
    haproxy = SimpleNamespace(socket=str(tmp_path / "admin.sock"))
    nginx = SimpleNamespace(config_path="/tmp/n.conf", include_path="/tmp/inc.conf", pid_file="/tmp/n.pid",
                            fleet=SimpleNamespace(ports={"stable": 1001, "canary": 1002, "baseline": 1003}))
    for kind, target in (("haproxy", haproxy), ("nginx", nginx)):
        data = stack_plan(kind, target, "http://127.0.0.1:9090", "same-age")
        spec = data["spec"]
        assert spec["analysis"]["baseline"] == "same-age"
        assert "baseline" in spec["target"]["router"]["servers"]
        assert spec["target"]["metrics"]["labels"]["baseline"] == "baseline"
        path = tmp_path / f"{kind}.yaml"
        path.write_text(yaml.safe_dump(data), encoding="utf-8")
        load_plan(path)  # raises PlanError if validate refuses it
    plain = stack_plan("haproxy", haproxy, "http://127.0.0.1:9090")
    assert "baseline" not in plain["spec"]["analysis"] and "baseline" not in plain["spec"]["target"]["router"]["servers"]
