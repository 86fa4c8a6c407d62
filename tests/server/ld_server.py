"""Helpers for the server tests: a real uvicorn server in a thread on a free loopback port (``Serving``),
the ``Api`` a test talks to over HTTP, the plan it starts releases from, and the check that an answer is
a problem document.

People: in tenant ``acme``, sam (admin) and lee (operator) hold the plan's role sre, mallory (operator)
holds no plan role, vic is a viewer; in tenant ``globex``, gus (admin).
"""

from __future__ import annotations

import socket
import textwrap
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI

import httpx

from launchdeck.store import tokens
from launchdeck.store.repo import Store

PEOPLE = {"sam": ("acme", "admin"), "lee": ("acme", "operator"), "mallory": ("acme", "operator"),
          "vic": ("acme", "viewer"), "gus": ("globex", "admin")}

#: A release whose stage 1 waits for an sre's sign-off; about 3 s of wall time at --time-scale 30.
PLAN = textwrap.dedent("""
    apiVersion: launchdeck/v1
    kind: Release
    metadata: {name: NAME, service: SERVICE, version: v2, previousVersion: v1}
    spec:
      target:
        versions:
          stable: {errorRate: 0.1%, latency: {median: 20ms, p95: 60ms}}
          canary: {errorRate: 0.1%, latency: {median: 20ms, p95: 60ms}}
        load: {rps: 200, users: 1000}
      roles:
        sre: [sam, lee]
        product-owner: [priya]
      stages:
        - {weight: 50%, hold: 30s, approve: [sre]}
        - {weight: 100%, hold: 30s}
      analysis: {interval: 10s, window: 30s, minRequests: 10, holdTimeout: 1h}
      gates:
        - {name: error-rate, metric: error_rate, op: ">=", threshold: 5%, for: 20s, severity: immediate}
""").lstrip()


def plan(name: str = "quick-v2", service: str = "quick") -> str:
    return PLAN.replace("NAME", name).replace("SERVICE", service)


@dataclass
class Api:
    """The app behind a test client, with one token per person."""

    client: httpx.Client
    store: Store
    root: Path
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return str(self.client.base_url).rstrip("/")

    def headers(self, who: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}

    def get(self, path: str, who: str | None = "sam", **kwargs: Any) -> httpx.Response:
        return self.client.get(path, headers=self.headers(who), **kwargs)

    def post(self, path: str, body: Any = None, who: str | None = "sam", **kwargs: Any) -> httpx.Response:
        return self.client.post(path, json=body, headers=self.headers(who), **kwargs)

    def start(self, name: str, who: str = "sam", **options: Any) -> httpx.Response:
        return self.post("/api/v1/releases", {"planText": plan(name), "timeScale": 30, **options}, who=who)


def make_tokens(store: Store) -> dict[str, str]:
    return {who: tokens.create(store, tenant=tenant, person=who, role=role)[0]
            for who, (tenant, role) in PEOPLE.items()}


def assert_problem(response: httpx.Response, status: int, *fragments: str) -> dict[str, Any]:
    """The response is an RFC 9457 problem document with this status, whose detail says each fragment."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    body = response.json()
    assert body["status"] == status and body["type"].startswith("urn:launchdeck:problem:") and body["title"]
    for fragment in fragments:
        assert fragment in body["detail"], body
    return body


class Serving:
    """``app`` served by uvicorn in a thread of this process, on a free port of 127.0.0.1."""

    def __init__(self, app: FastAPI) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> Serving:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:  # set by uvicorn once it listens and the app's startup ran
            assert self.thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.sock.close()
