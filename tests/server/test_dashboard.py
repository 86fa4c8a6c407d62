"""The dashboard in a real browser: headless Chromium (Debian's, driven by Playwright) against a real
`launchdeck server` process on loopback whose embedded worker drives a real local-fleet release.

One server, one release and one browser for the module (CI time is precious): an operator signs
in, watches the release move and its charts grow without a reload while another person signs off
over the API, then pulls the kill switch and sees the weight reach 0 and the rollback decided; a
viewer sees no buttons, a forged POST is refused, another tenant's URL is 404. Screenshots of the
list, the release and the train go to ``artifacts/dashboard/`` (or LAUNCHDECK_ARTIFACTS).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

pytestmark = pytest.mark.integration
CHROMIUM = "/usr/bin/chromium"
RELEASE = "shop.api"
#: Stage 1 waits for an sre; stage 2 holds long enough (60 s of wall time at ×10) to be killed in.
PLAN = textwrap.dedent("""
    apiVersion: launchdeck/v1
    kind: Release
    metadata: {name: shop.api, service: api, version: v2.4.0, previousVersion: v2.3.1,
               labels: {changelog: "https://example.com/shop/compare/v2.3.1...v2.4.0"}}
    spec:
      target:
        versions:
          stable: {errorRate: 0.1%, latency: {median: 20ms, p95: 60ms}}
          canary: {errorRate: 0.1%, latency: {median: 20ms, p95: 60ms}}
        load: {rps: 200, users: 1000}
      roles:
        sre: [sam, lee]
      stages:
        - {weight: 20%, hold: 40s, approve: [sre]}
        - {weight: 60%, hold: 10m}
      analysis: {interval: 5s, window: 30s, minRequests: 10, holdTimeout: 1h}
      gates:
        - {name: error-rate, metric: error_rate, op: ">=", threshold: 5%, for: 20s, severity: immediate}
        - {name: p95, metric: latency_p95_ms, op: ">", threshold: 400ms, for: 30s, severity: immediate}
""").lstrip()
TRAIN = textwrap.dedent("""
    apiVersion: launchdeck/v1
    kind: ReleaseTrain
    metadata: {name: shop, version: v2.4.0}
    spec:
      defaults:
        target:
          versions:
            stable: {errorRate: 0.1%}
            canary: {errorRate: 0.1%}
        stages: [{weight: 100%, hold: 30s}]
      services:
        - {name: api}
        - {name: web, after: [api]}
        - {name: jobs, after: [api]}
        - {name: edge, after: [web, jobs]}
""").lstrip()


@dataclass
class Room:
    url: str
    tokens: dict[str, str]
    shots: Path
    browser: Browser

    def api(self, who: str) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, headers={"Authorization": f"Bearer {self.tokens[who]}"})

    def signed_in(self, who: str) -> Page:
        page = self.browser.new_context(viewport={"width": 1480, "height": 1000}).new_page()
        page.goto(f"{self.url}/ui/releases")
        page.fill("input[name=token]", self.tokens[who])
        page.click("button[type=submit]")
        page.wait_for_url("**/ui/releases")
        return page


def _cli(cwd: Path, env: dict[str, str], *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "launchdeck", *args], cwd=cwd, env=env, capture_output=True, check=False,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.fixture(scope="module")
def room(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Room]:
    cwd = tmp_path_factory.mktemp("dashboard")
    shots = Path(os.environ.get("LAUNCHDECK_ARTIFACTS") or Path(__file__).resolve().parents[2] / "artifacts") / "dashboard"
    shots.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "LAUNCHDECK_DB": f"sqlite:///{cwd / 'launchdeck.db'}", "PYTHONUNBUFFERED": "1"}
    tokens = {who: _cli(cwd, env, "tokens", "create", "--tenant", tenant, "--person", who, "--role", role)
              for who, tenant, role in (("sam", "acme", "admin"), ("lee", "acme", "operator"),
                                        ("vic", "acme", "viewer"), ("gus", "globex", "admin"))}
    err = (cwd / "server.err").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "launchdeck", "server", "--port", "0"], cwd=cwd, env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
    try:
        deadline = time.monotonic() + 60
        while "listening on http://" not in (text := (cwd / "server.err").read_text()):
            assert proc.poll() is None and time.monotonic() < deadline, f"the server did not start:\n{text}"
            time.sleep(0.05)
        url = text.split("listening on ", 1)[1].split()[0]
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            room = Room(url, tokens, shots, browser)
            with room.api("sam") as sam:
                assert sam.post("/api/v1/plans", json={"plan": TRAIN}).status_code == 201
                started = sam.post("/api/v1/releases", json={"planText": PLAN, "timeScale": 10, "seed": 3})
                assert started.status_code == 201, started.text
            yield room
            browser.close()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0, (cwd / "server.err").read_text()[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        err.close()


def points(page: Page, metric: str) -> int:
    return int(page.get_attribute(f".chart[data-metric={metric}]", "data-points") or 0)


def test_an_operator_follows_the_release_live_and_kills_it(room: Room) -> None:
    page = room.signed_in("lee")
    expect(page.locator(f"tr[data-release='{RELEASE}']")).to_be_visible()
    expect(page.locator(".waiting-all")).to_contain_text("sign-off", timeout=30_000)  # the list updates live
    page.screenshot(path=room.shots / "list.png", full_page=True)

    page.click(f"a[href='/ui/releases/{RELEASE}']")
    expect(page.locator("#live-state")).to_have_text("live", timeout=15_000)
    page.evaluate("window.notReloaded = true")
    expect(page.locator("#waiting")).to_contain_text("sign-off", timeout=30_000)
    before = points(page, "error_rate")
    with room.api("sam") as sam:  # another person signs off from a laptop, over the API
        assert sam.post(f"/api/v1/releases/{RELEASE}/signoffs", json={"role": "sre", "stage": 1}).status_code == 201
        deadline = time.monotonic() + 120  # the server's worker moves on (slowly on a loaded machine) …
        while (state := sam.get(f"/api/v1/releases/{RELEASE}").json())["stage"] != 2:
            assert time.monotonic() < deadline and not state["outcome"], state
            page.wait_for_timeout(200)
    # … and the page follows it by itself
    expect(page.locator(".stage[data-stage='2']")).to_have_attribute("data-status", "current", timeout=20_000)
    expect(page.locator("#weight")).to_have_text("60%", timeout=20_000)
    expect(page.locator(".stage[data-status=passed]")).to_have_count(1)
    expect(page.locator(".timeline li[data-kind='stage.passed']")).to_have_count(1)
    deadline = time.monotonic() + 30
    while points(page, "latency_p95_ms") < before + 3:  # the charts grow as evaluations stream in
        assert time.monotonic() < deadline, (before, points(page, "latency_p95_ms"))
        page.wait_for_timeout(250)
    assert page.evaluate("window.notReloaded === true")  # all of it without a reload
    assert page.locator(".chart").count() == 3  # error rate, p95 latency, throughput per share
    page.screenshot(path=room.shots / "release.png", full_page=True)

    asked: list[str] = []
    page.once("dialog", lambda d: (asked.append(d.message), d.accept()))
    page.click("button[data-action=kill]")
    expect(page.locator("#done")).to_contain_text("kill switch", timeout=15_000)
    assert asked and RELEASE in asked[0]  # the confirmation names the release
    expect(page.locator("#weight")).to_have_text("0%", timeout=30_000)
    expect(page.locator(".timeline li[data-kind='rollback.started']")).to_have_count(1, timeout=30_000)
    expect(page.locator(".timeline li[data-kind='rollback.started']")).to_contain_text("kill")
    page.context.close()


def test_a_viewer_sees_no_buttons_and_a_forged_post_is_refused(room: Room) -> None:
    page = room.signed_in("vic")
    page.goto(f"{room.url}/ui/releases/{RELEASE}")
    expect(page.locator("#live-summary h1")).to_have_text(RELEASE)
    expect(page.locator("#live-side .card").first).to_be_visible()
    assert page.locator("form.act").count() == 0 and page.locator("button.danger").count() == 0
    page.context.close()

    operator = room.signed_in("lee")  # a forged POST carries the session cookie but not the CSRF token
    forged = operator.context.request.post(f"{room.url}/ui/releases/{RELEASE}/act",
                                           form={"action": "pause", "role": "sre"}, max_redirects=0)
    assert forged.status == 403 and "CSRF" in forged.text()
    operator.context.close()


def test_another_tenants_release_url_is_not_found(room: Room) -> None:
    page = room.signed_in("gus")
    answer = page.goto(f"{room.url}/ui/releases/{RELEASE}")
    assert answer is not None and answer.status == 404
    expect(page.locator("h1")).to_have_text("404")
    page.context.close()


def test_the_train_page_shows_each_service_in_dependency_order(room: Room) -> None:
    page = room.signed_in("sam")
    page.goto(f"{room.url}/ui/trains/shop")
    expect(page.locator("g[data-service]")).to_have_count(4)
    assert page.get_attribute("g[data-service=api]", "data-state") != "not started"  # shop.api is the release
    assert page.get_attribute("g[data-service=edge]", "data-state") == "not started"
    page.screenshot(path=room.shots / "train.png", full_page=True)
    page.context.close()
