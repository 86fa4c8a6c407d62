"""Dashboard speed: the releases list with 1,000 releases, and how soon a committed decision shows on an open page.

* **list**: a store holding ``--releases`` releases (default 1,000; a tenth waiting on a person, each
  with the state a running release keeps: gates, windows, latency histograms) and the list page
  asked ``-n`` times through the real app (ASGI in this process). Server time is what the server
  says in each answer's ``Server-Timing`` header (arrival to first byte: store read, service,
  template), median and 95th percentile; beside it the client's wall time and this process's CPU
  time per page (median and 95th percentile; CPU is the load-independent cost). Goal: server time
  under 300 ms.
* **decision-to-page**: a real `launchdeck server` process, the release page open in headless
  Chromium, then ``-n`` decisions committed to the store by this process; for each, the time from
  the commit to the moment the page's timeline shows it (a MutationObserver in the page stamps
  it; same machine, same clock). Goal: under 1 s. The server's event streams read the store every
  0.5 s (``poll_seconds``), which bounds what this can be.

    python bench/dashboard.py            # a table
    python bench/dashboard.py --quick    # fewer pages and decisions (about 30 s)
    python bench/dashboard.py --list-only  # the list alone (no Chromium)
    python bench/dashboard.py --output json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from launchdeck.plan import load_plan_text
from launchdeck.store import tokens
from launchdeck.store.repo import NewDecision, Store

LIST_GOAL_MS, DECISION_GOAL_MS = 300.0, 1000.0
CHROMIUM = "/usr/bin/chromium"
PLAN = textwrap.dedent("""
    apiVersion: launchdeck/v1
    kind: Release
    metadata: {name: NAME, service: SERVICE, version: v2, previousVersion: v1}
    spec:
      target:
        versions:
          stable: {errorRate: 0.1%}
          canary: {errorRate: 0.1%}
      roles: {sre: [sam]}
      stages:
        - {weight: 10%, hold: 5m, approve: [sre]}
        - {weight: 50%, hold: 10m}
        - {weight: 100%, hold: 10m}
      gates:
        - {name: error-rate, metric: error_rate, op: ">=", threshold: 2%, for: 1m, severity: immediate}
        - {name: p95, metric: latency_p95_ms, op: ">", threshold: 400ms, for: 2m, severity: immediate}
""").lstrip()


def window(version: str, requests: int) -> dict[str, Any]:
    return {"version": version, "requests": requests, "errors": requests // 200, "seconds": 30.0, "share": 0.5,
            "latency": {str(100 + 3 * i): 1 + i % 7 for i in range(40)}, "values": {}}


def state(i: int, service: str) -> dict[str, Any]:
    """What a running release keeps in its row (the size and shape matter, not the numbers)."""
    waiting = {"kind": "sign-off", "roles": ["sre"], "stage": 1, "gate": None, "deadlinePlanAt": 3900.0,
               "then": "the run ends held", "command": f"launchdeck approve r{i} --stage 1 --role sre --as NAME"}
    gates = {g: {"breach_since": None, "status": "pass", "reason": f"{g}: within the gate over 2000 requests",
                 "evidence": {"log_lr": [0.1] * 10, "log_plug_in": 0.0, "recent": []}} for g in ("error-rate", "p95")}
    return {"engine": {"phase": "stage", "stage": i % 3, "weight": (10.0, 50.0, 100.0)[i % 3], "gates": gates,
                       "baseline": window("stable", 2000), "stable_in_stage": window("stable", 900),
                       "frozen_baseline": window("stable", 2000), "stages_passed": i % 3},
            "roles": {"sre": ["sam"]}, "stages": 3, "service": service, "timeScale": 1.0,
            "startedAt": "2026-01-01T00:00:00+00:00", "waiting": waiting if i % 10 == 0 else None}


def fill(store: Store, count: int, *, tenant: str = "acme", submit: bool = True) -> dict[str, str]:
    """``count`` releases of 20 services in ``tenant``; returns each name's plan text."""
    texts = {}
    for i in range(count):
        name, service = f"r{i}", f"svc{i % 20}"
        text = PLAN.replace("NAME", name).replace("SERVICE", service)
        found = store.create(tenant=tenant, name=name, plan_path="plan.yaml", plan_digest=load_plan_text(text).digest,
                             state=state(i, service))
        if submit:
            store.submit(release_id=found.id, submitted_by="sam", plan_text=text)
        texts[name] = text
    return texts


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def bench_list(count: int, n: int, db_url: str | None) -> dict[str, Any]:
    import httpx

    from launchdeck.server.app import create_app

    with tempfile.TemporaryDirectory(prefix="ld-bench-dash-") as scratch:
        url = db_url or f"sqlite:///{scratch}/list.db"
        store = Store(url)
        fill(store, count)
        token = tokens.create(store, tenant="acme", person="sam", role="admin")[0]
        app = create_app(url, embedded_worker=False, data_dir=Path(scratch))

        async def run() -> tuple[list[float], list[float], list[float], int]:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
                login = await client.get("/ui/login")
                csrf = login.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
                signed = await client.post("/ui/login", data={"token": token, "csrf": csrf})
                assert signed.status_code == 303, signed.text
                walls, cpus, servers, rows = [], [], [], 0
                for i in range(n + 1):
                    w, c = time.perf_counter(), time.process_time()
                    page = await client.get("/ui/releases")
                    wall, cpu = (time.perf_counter() - w) * 1000, (time.process_time() - c) * 1000
                    assert page.status_code == 200, page.text[:300]
                    rows = page.text.count("<tr data-release=")
                    if i:  # the first page warms the plan cache and the templates
                        walls.append(wall)
                        cpus.append(cpu)
                        servers.append(float(page.headers["server-timing"].split("dur=", 1)[1]))
                return walls, cpus, servers, rows

        walls, cpus, servers, rows = asyncio.run(run())
        store.close()
    return {"releases": count, "rowsShown": rows, "n": n, "serverP50Ms": statistics.median(servers),
            "serverP95Ms": percentile(servers, 0.95), "wallP50Ms": statistics.median(walls),
            "wallP95Ms": percentile(walls, 0.95), "cpuP50Ms": statistics.median(cpus),
            "cpuP95Ms": percentile(cpus, 0.95), "goalMs": LIST_GOAL_MS}


def bench_decisions(n: int) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="ld-bench-dash-") as scratch:
        root = Path(scratch)
        url = f"sqlite:///{root}/live.db"
        store = Store(url)
        text = PLAN.replace("NAME", "live").replace("SERVICE", "live")
        (root / "plan.yaml").write_text(text)
        # Not submitted: no worker claims it, so only this process's decisions reach the page.
        found = store.create(tenant="acme", name="live", plan_path=str(root / "plan.yaml"),
                             plan_digest=load_plan_text(text).digest, state=state(1, "live"))
        token = tokens.create(store, tenant="acme", person="sam", role="admin")[0]
        err = (root / "server.err").open("wb")
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "LAUNCHDECK_DB": url}
        server = subprocess.Popen([sys.executable, "-m", "launchdeck", "server", "--port", "0", "--no-worker"],
                                  cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=err)
        try:
            deadline = time.monotonic() + 60
            while "listening on http://" not in (said := (root / "server.err").read_text()):
                assert server.poll() is None and time.monotonic() < deadline, said
                time.sleep(0.05)
            base = said.split("listening on ", 1)[1].split()[0]
            latencies = []
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
                page = browser.new_page()
                page.goto(f"{base}/ui/login")
                page.fill("input[name=token]", token)
                page.click("button[type=submit]")
                page.wait_for_url("**/ui/releases")
                page.goto(f"{base}/ui/releases/live")
                page.wait_for_function("document.getElementById('live-state').textContent === 'live'")
                page.evaluate("""() => { window.seenAt = {};
                    new MutationObserver(() => { for (const li of document.querySelectorAll('.timeline li')) {
                        const m = /bench decision (\\d+)/.exec(li.textContent);
                        if (m && !(m[1] in window.seenAt)) window.seenAt[m[1]] = performance.timeOrigin + performance.now();
                    } }).observe(document.body, {subtree: true, childList: true}); }""")
                for i in range(n):
                    committed = time.time() * 1000
                    store.save(release_id=found.id, state=state(1, "live"), plan_clock=float(i), outcome=None,
                               decisions=[NewDecision(float(i), "decision.taken", f"bench decision {i}", None,
                                                      {"who": "sam", "role": "sre", "choice": "continue"})],
                               messages=[])
                    page.wait_for_function(f"window.seenAt['{i}'] !== undefined", timeout=30_000)
                    latencies.append(page.evaluate(f"window.seenAt['{i}']") - committed)
                    page.wait_for_timeout(300 + 97 * (i % 5))  # commits at varied phases of the stream's poll
                browser.close()
        finally:
            server.terminate()
            server.wait(timeout=60)
            err.close()
            store.close()
    return {"n": n, "p50Ms": statistics.median(latencies), "p95Ms": percentile(latencies, 0.95),
            "maxMs": max(latencies), "goalMs": DECISION_GOAL_MS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10 pages and 5 decisions")
    parser.add_argument("--releases", type=int, default=1000)
    parser.add_argument("-n", type=int, default=None, help="pages asked and decisions committed")
    parser.add_argument("--db", default=None, help="the list's store (default: a SQLite file)")
    parser.add_argument("--output", choices=("table", "json"), default="table")
    parser.add_argument("--list-only", action="store_true", help="the list alone, without Chromium")
    args = parser.parse_args()
    n = args.n or (10 if args.quick else 30)
    result: dict[str, Any] = {"list": bench_list(args.releases, n, args.db)}
    if not args.list_only:
        result["decisionToPage"] = bench_decisions(max(3, n // 2))
    if args.output == "json":
        print(json.dumps(result, indent=2))
        return
    lst = result["list"]
    print(f"{'measure':52} {'n':>4} {'p50 ms':>8} {'p95 ms':>8} {'goal ms':>8}")
    what = f"list page, {lst['releases']} releases ({lst['rowsShown']} rows)"
    for label, key in (("server time", "server"), ("client wall time", "wall"), ("CPU time", "cpu")):
        print(f"{what + ': ' + label:52} {lst['n']:>4} {lst[key + 'P50Ms']:>8.1f} {lst[key + 'P95Ms']:>8.1f} "
              f"{lst['goalMs'] if key == 'server' else '':>8}")
    if "decisionToPage" in result:
        dec = result["decisionToPage"]
        print(f"{'decision committed -> shown on an open page':52} {dec['n']:>4} {dec['p50Ms']:>8.1f} "
              f"{dec['p95Ms']:>8.1f} {dec['goalMs']:>8.0f}")


if __name__ == "__main__":
    main()
