"""`launchdeck demo --stack haproxy|nginx`: the canary behind a real router, judged from a real Prometheus.

Starts, as real processes on loopback, the router in front of two sample-app versions, Prometheus
scraping both, and a load generator; writes the packaged real-stack plan pointed at them; runs it.
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


def _versions(scenario: str) -> dict[str, tuple[Behaviour, tuple[Fault, ...]]]:
    healthy = Behaviour(error_rate=0.002, latency_median_ms=20.0, latency_p95_ms=60.0)
    faults = (Fault(start_s=60.0, error_rate=0.08),) if scenario == "bad" else ()
    return {"stable": (healthy, ()), "canary": (healthy, faults)}


def check_programs(kind: str) -> None:
    from launchdeck.stacks import missing_programs

    missing = missing_programs(PROGRAMS[kind])
    if missing:
        raise TargetError(f"the {kind} demo needs {', '.join(missing)}, which is not installed",
                          hint=f"install it: sudo apt-get install {' '.join(missing)} (Debian/Ubuntu)")


async def run_stack_demo(kind: str, scenario: str, opts: RunOptions, view: View) -> dict[str, Any]:
    from launchdeck.stacks import open_stack
    from launchdeck.stacks.prometheus import PrometheusServer

    check_programs(kind)
    async with AsyncExitStack() as stack:
        target = await stack.enter_async_context(open_stack(kind, versions=_versions(scenario),
                                                            time_scale=opts.time_scale, seed=opts.seed))
        assert target.fleet is not None
        scrape = [f"127.0.0.1:{port}" for port in target.fleet.ports.values()]
        prometheus = await stack.enter_async_context(PrometheusServer(scrape, scrape_interval_s=1.0))
        view.note(f"{kind} at {target.url}, Prometheus at {prometheus.url}; waiting for its first scrape")
        await prometheus.wait_for_targets(30.0)
        await stack.enter_async_context(LoadGenerator(target.url, rps=LOAD_RPS, users=1000, seed=opts.seed))
        plan_path = _write_plan(kind, target, prometheus.url, opts.workdir, scenario)
        return await run_release(load_plan(plan_path), opts, view)


def _write_plan(kind: str, target: Any, prometheus_url: str, workdir: Path, scenario: str) -> Path:
    text = resources.files(__package__).joinpath("haproxy-prometheus.yaml").read_text(encoding="utf-8")
    data = yaml.load(text, Loader=yamlsrc.PlanLoader)  # noqa: S506 - a safe loader
    if kind == "haproxy":
        data["spec"]["target"]["router"].update(socket=target.socket)
    else:
        ports = target.fleet.ports
        data["spec"]["target"]["router"] = {
            "type": "nginx", "config": target.config_path, "include": target.include_path,
            "pidFile": target.pid_file, "upstream": "api",
            "servers": {"stable": f"127.0.0.1:{ports['stable']}", "canary": f"127.0.0.1:{ports['canary']}"}}
    data["spec"]["target"]["metrics"]["url"] = prometheus_url
    path = workdir / f"{kind}-prometheus-{scenario}.yaml"
    path.write_text(f"# launchdeck demo --stack {kind} --scenario {scenario}\n"
                    + yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path
