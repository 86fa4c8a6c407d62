"""`launchdeck demo --stack haproxy|nginx`: the canary behind a real router, judged from a real Prometheus.

Starts, as real processes on loopback, the router in front of two sample-app versions, Prometheus
scraping both, and a load generator; writes the packaged real-stack plan pointed at them; runs it.

With ``baseline="same-age"`` (``launchdeck demo --stack ... --baseline same-age``) it also starts a
third sample-app process, a fresh copy of stable, as the router's ``baseline`` server, and the plan
says ``analysis.baseline: same-age`` with that server and its Prometheus label: the router sends
traffic three ways and the p95 gate compares the canary with the baseline.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from launchdeck.controller.runner import RunOptions, View, run_release
from launchdeck.errors import TargetError
from launchdeck.local.loadgen import LoadGenerator
from launchdeck.local.sample_app import Behaviour, Fault
from launchdeck.plan import load_plan, yamlsrc

PROGRAMS = {"haproxy": ["haproxy", "prometheus"], "nginx": ["nginx", "prometheus"]}
LOAD_RPS = 120.0


BASELINES = ("stable", "same-age")


def _versions(scenario: str, baseline: str = "stable") -> dict[str, tuple[Behaviour, tuple[Fault, ...]]]:
    healthy = Behaviour(error_rate=0.002, latency_median_ms=20.0, latency_p95_ms=60.0)
    faults = (Fault(start_s=60.0, error_rate=0.08),) if scenario == "bad" else ()
    versions = {"stable": (healthy, ()), "canary": (healthy, faults)}
    if baseline == "same-age":
        versions["baseline"] = (healthy, ())
    return versions


def check_programs(kind: str) -> None:
    from launchdeck.stacks import missing_programs

    missing = missing_programs(PROGRAMS[kind])
    if missing:
        raise TargetError(f"the {kind} demo needs {', '.join(missing)}, which is not installed",
                          hint=f"install it: sudo apt-get install {' '.join(missing)} (Debian/Ubuntu)")


async def run_stack_demo(kind: str, scenario: str, opts: RunOptions, view: View,
                         baseline: str = "stable") -> dict[str, Any]:
    from launchdeck.stacks import open_stack
    from launchdeck.stacks.prometheus import PrometheusServer

    check_programs(kind)
    async with AsyncExitStack() as stack:
        target = await stack.enter_async_context(open_stack(kind, versions=_versions(scenario, baseline),
                                                            time_scale=opts.time_scale, seed=opts.seed))
        assert target.fleet is not None
        scrape = [f"127.0.0.1:{port}" for port in target.fleet.ports.values()]
        prometheus = await stack.enter_async_context(PrometheusServer(scrape, scrape_interval_s=1.0))
        view.note(f"{kind} at {target.url}, Prometheus at {prometheus.url}; waiting for its first scrape")
        await prometheus.wait_for_targets(30.0)
        await stack.enter_async_context(LoadGenerator(target.url, rps=LOAD_RPS, users=1000, seed=opts.seed))
        plan_path = _write_plan(kind, target, prometheus.url, opts.workdir, scenario, baseline)
        return await run_release(load_plan(plan_path), opts, view)


def stack_plan(kind: str, target: Any, prometheus_url: str, baseline: str = "stable") -> dict[str, Any]:
    """The packaged real-stack plan pointed at a started stack; with ``same-age``, judged against the stack's
    baseline server."""
    text = resources.files(__package__).joinpath("haproxy-prometheus.yaml").read_text(encoding="utf-8")
    data: dict[str, Any] = yaml.load(text, Loader=yamlsrc.PlanLoader)  # noqa: S506 - a safe loader
    spec = data["spec"]
    roles = ("stable", "canary", "baseline") if baseline == "same-age" else ("stable", "canary")
    if kind == "haproxy":
        spec["target"]["router"].update(socket=target.socket, servers={role: role for role in roles})
    else:
        ports = target.fleet.ports
        spec["target"]["router"] = {
            "type": "nginx", "config": target.config_path, "include": target.include_path,
            "pidFile": target.pid_file, "upstream": "api",
            "servers": {role: f"127.0.0.1:{ports[role]}" for role in roles}}
    spec["target"]["metrics"].update(url=prometheus_url, labels={role: role for role in roles})
    if baseline == "same-age":
        spec["analysis"]["baseline"] = "same-age"
    return data


def _write_plan(kind: str, target: Any, prometheus_url: str, workdir: Path, scenario: str,
                baseline: str = "stable") -> Path:
    data = stack_plan(kind, target, prometheus_url, baseline)
    suffix = "-same-age" if baseline == "same-age" else ""
    path = workdir / f"{kind}-prometheus-{scenario}{suffix}.yaml"
    flag = " --baseline same-age" if baseline == "same-age" else ""
    path.write_text(f"# launchdeck demo --stack {kind} --scenario {scenario}{flag}\n"
                    + yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path
