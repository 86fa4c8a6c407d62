"""`launchdeck tokens` (create prints the token once; list never shows it; revoke) and `launchdeck server`'s
refusal of a port already taken."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path


def launchdeck(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LAUNCHDECK_DB": f"sqlite:///{cwd / 'launchdeck.db'}"}
    return subprocess.run([sys.executable, "-m", "launchdeck", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=60)


def test_a_token_is_printed_once_listed_by_prefix_and_revoked(tmp_path: Path) -> None:
    made = launchdeck(tmp_path, "tokens", "create", "--tenant", "acme", "--person", "sam", "--role", "operator")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    prefix = token.split("_")[1]
    assert token.startswith("ld_") and "shown this once" in made.stderr and token not in made.stderr
    listed = launchdeck(tmp_path, "tokens", "list", "--output", "json")
    (row,) = json.loads(listed.stdout)
    assert (row["prefix"], row["tenant"], row["person"], row["role"], row["revokedAt"]) == (
        prefix, "acme", "sam", "operator", None)
    assert token not in listed.stdout and token not in launchdeck(tmp_path, "tokens", "list").stdout
    revoked = launchdeck(tmp_path, "tokens", "revoke", prefix)
    assert revoked.returncode == 0 and f"revoked token {prefix} of sam (operator) in tenant acme" in revoked.stdout
    assert json.loads(launchdeck(tmp_path, "tokens", "list", "--output", "json").stdout)[0]["revokedAt"]


def test_a_wrong_role_or_an_unknown_prefix_is_bad_input(tmp_path: Path) -> None:
    wrong = launchdeck(tmp_path, "tokens", "create", "--tenant", "acme", "--person", "sam", "--role", "root")
    assert wrong.returncode == 2 and "Traceback" not in wrong.stderr
    launchdeck(tmp_path, "tokens", "create", "--tenant", "acme", "--person", "sam", "--role", "viewer")
    unknown = launchdeck(tmp_path, "tokens", "revoke", "nope")
    assert unknown.returncode == 2 and "no API token with prefix 'nope'" in unknown.stderr, unknown.stderr


def test_the_server_says_when_its_port_is_taken(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = str(taken.getsockname()[1])
        refused = launchdeck(tmp_path, "server", "--port", port, "--no-worker")
    assert refused.returncode == 2, refused.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in refused.stderr and "--port" in refused.stderr
    assert "Traceback" not in refused.stderr
