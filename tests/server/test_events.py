"""A release followed live over Server-Sent Events, end to end: `launchdeck server` (its embedded worker
drives the release) started as a real process, tokens made with `launchdeck tokens create`, a plan
registered and a release started over the API, stage 1 signed off when the stream says it waits, and
the stream followed to its outcome; then the evidence downloaded and verified, and the audit."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from ld_server import plan

pytestmark = pytest.mark.integration
RELEASE = "live-v2"


@dataclass
class Event:
    event: str
    data: Any
    id: str | None = None


def events(response: httpx.Response) -> Iterator[Event]:
    """The SSE stream's events (keep-alive comments skipped)."""
    fields: dict[str, str] = {}
    for line in response.iter_lines():
        if line == "":
            if "event" in fields:
                yield Event(fields["event"], json.loads(fields.get("data", "null")), fields.get("id"))
            fields = {}
        elif not line.startswith(":"):
            key, _, value = line.partition(":")
            fields[key] = value.removeprefix(" ")


def cli(cwd: Path, env: dict[str, str], *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "launchdeck", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, dict[str, str], Path]]:
    env = {**os.environ, "LAUNCHDECK_DB": f"sqlite:///{tmp_path / 'launchdeck.db'}", "PYTHONUNBUFFERED": "1"}
    tokens = {who: cli(tmp_path, env, "tokens", "create", "--tenant", tenant, "--person", who, "--role", role)
              for who, tenant, role in (("sam", "acme", "admin"), ("lee", "acme", "operator"),
                                        ("gus", "globex", "viewer"))}
    err = (tmp_path / "server.err").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "launchdeck", "server", "--port", "0"], cwd=tmp_path, env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
    try:
        deadline = time.monotonic() + 60
        while "listening on http://" not in (text := (tmp_path / "server.err").read_text()):
            assert proc.poll() is None and time.monotonic() < deadline, f"the server did not start:\n{text}"
            time.sleep(0.05)
        url = text.split("listening on ", 1)[1].split()[0]
        yield url, tokens, tmp_path
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0, (tmp_path / "server.err").read_text()[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        err.close()


def test_a_release_started_over_the_api_is_followed_to_its_outcome(server: tuple[str, dict[str, str], Path]) -> None:
    url, tokens, cwd = server
    sam, lee = ({"Authorization": f"Bearer {tokens[who]}"} for who in ("sam", "lee"))
    with httpx.Client(base_url=url, timeout=httpx.Timeout(10, read=90)) as http:
        assert http.post("/api/v1/plans", json={"plan": plan(RELEASE)}, headers=sam).status_code == 201
        started = http.post("/api/v1/releases", json={"plan": RELEASE, "timeScale": 30, "seed": 5}, headers=lee)
        assert started.status_code == 201, started.text
        gus = {"Authorization": f"Bearer {tokens['gus']}"}
        assert http.get(f"/api/v1/releases/{RELEASE}/events", headers=gus).status_code == 404

        seen: list[Event] = []
        with http.stream("GET", f"/api/v1/releases/{RELEASE}/events", headers=lee) as stream:
            assert stream.status_code == 200 and stream.headers["content-type"].startswith("text/event-stream")
            for event in events(stream):
                seen.append(event)
                if event.event == "decision" and event.data["kind"] == "approval.requested":
                    signed = http.post(f"/api/v1/releases/{RELEASE}/signoffs", headers=lee,
                                       json={"role": "sre", "stage": 1, "reason": "seen live"})
                    assert signed.status_code == 201, signed.text
                    assert signed.json()["driven"] is True  # the server's worker holds the release's lease

        kinds = [e.event for e in seen]
        assert kinds[-1] == "outcome" and seen[-1].data["outcome"] == "promoted", seen[-1]
        assert "snapshot" in kinds and seen[-2].event == "snapshot" and seen[-2].data["outcome"] == "promoted"
        decisions = [e for e in seen if e.event == "decision"]
        assert [int(e.id or 0) for e in decisions] == list(range(1, len(decisions) + 1))  # every one, in order
        passed = next((e.data for e in decisions if e.data["kind"] == "stage.passed"), None)
        assert passed is not None, [e.data["kind"] for e in decisions]
        assert passed["people"] == [{"who": "lee", "role": "sre"}] and passed["rule"]

        why = http.get(f"/api/v1/releases/{RELEASE}/why", headers=sam).json()
        assert [d["seq"] for d in why] == [e.data["seq"] for e in decisions if e.data["kind"] != "evaluation"]
        bundles = http.get(f"/api/v1/releases/{RELEASE}/evidence", headers=sam).json()
        final = next(b for b in bundles if b["label"] == "release")
        body = http.get(f"/api/v1/releases/{RELEASE}/evidence/{final['name']}", headers=sam)
        assert body.status_code == 200 and len(body.content) == final["bytes"]
        (cwd / "downloaded.bundle.json").write_bytes(body.content)
        audit = http.get(f"/api/v1/releases/{RELEASE}/audit", headers=sam).json()
        assert audit["ok"], audit
        counted = {line.split()[0]: float(line.split()[1]) for line in http.get("/metrics").text.splitlines()
                   if line and not line.startswith("#")}
        assert counted["launchdeck_ticks_total"] > 0  # the embedded worker counts what it drives
        assert counted["launchdeck_tick_lag_seconds_count"] >= len([e for e in seen if e.event == "decision"
                                                                     and e.data["kind"] == "evaluation"])
    env = {**os.environ, "LAUNCHDECK_DB": f"sqlite:///{cwd / 'launchdeck.db'}"}
    assert cli(cwd, env, "evidence", "verify", "downloaded.bundle.json").startswith("OK downloaded.bundle.json")
    assert (cwd / "launchdeck-data" / "acme" / RELEASE / "plan.yaml").is_file()


# -- a release that ended before wrap-ups were recorded --------------------------------------------------


def _stored(outcome: str | None, state: dict[str, Any]) -> Any:
    from launchdeck.store.repo import StoredRelease

    return StoredRelease(1, "acme", "old-v1", "old.yaml", "sha256:00", state, 60.0, outcome)


@pytest.mark.parametrize(("outcome", "wrapup", "done"), [
    (None, None, False),
    ("promoted", None, True),  # ended before wrap-ups were recorded: its outcome is all there is
    ("promoted", {"done": False}, False),  # being wrapped up: final evidence and last messages still to come
    ("rolled_back", {"done": True, "evidence": "e.json"}, True),
])
def test_a_release_is_finished_once_its_wrap_up_is_done_or_was_never_recorded(outcome: str | None, wrapup: Any,
                                                                              done: bool) -> None:
    from launchdeck.server.events import finished

    state = {"engine": {"phase": "done" if outcome else "stage"}, **({"wrapup": wrapup} if wrapup else {})}
    assert finished(_stored(outcome, state)) is done


def test_the_stream_of_a_release_finished_before_wrap_ups_sends_its_outcome_and_ends(tmp_path: Path) -> None:
    import asyncio

    from launchdeck.server.events import stream
    from launchdeck.store.repo import NewDecision, Store

    with Store(f"sqlite:///{tmp_path / 'old.db'}") as store:
        made = store.create(tenant="acme", name="old-v1", plan_path="old.yaml", plan_digest="sha256:00",
                            state={"engine": {"phase": "stage"}})
        engine = {"phase": "done", "stage": 1, "weight": 100.0, "gates": {}, "reason": "every stage passed"}
        store.save(release_id=made.id, state={"engine": engine}, plan_clock=600.0, outcome="promoted",
                   decisions=[NewDecision(600.0, "release.promoted", "every stage passed", None, {})], messages=[])

        async def follow() -> list[tuple[str, Any]]:
            async def read() -> list[tuple[str, Any]]:
                return [(e.event, json.loads(e.data)) async for e in stream(store, made.id, poll_seconds=0.01)]

            return await asyncio.wait_for(read(), 60)  # a stream that never ends fails here instead of hanging

        seen = asyncio.run(follow())
    assert [kind for kind, _ in seen] == ["decision", "snapshot", "outcome"]
    assert seen[-1][1] == {"release": "old-v1", "outcome": "promoted", "reason": "every stage passed", "weight": 100.0}
