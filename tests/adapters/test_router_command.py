"""The command router and the command runner under it, with real processes: a small platform CLI
(``platform.py``) keeps a weight in a file, as kubectl keeps it in a cluster."""

from __future__ import annotations

import asyncio
import shlex
import sys
from pathlib import Path

import pytest

from launchdeck.adapters import process
from launchdeck.adapters.routers.command import CommandRouter, parse_weight
from launchdeck.errors import TargetError
from launchdeck.plan.hooks_model import CommandsSpec

PY = shlex.quote(sys.executable)
PLATFORM = """\
import pathlib, sys
state = pathlib.Path("weight.txt")
if sys.argv[1] == "set":
    if sys.argv[2] == "fail":
        print("error: the cluster refused the change (token s3cr3t-t0ken)"); sys.exit(3)
    state.write_text(sys.argv[2])
    print("traffic split applied")
else:
    print(f"canary={state.read_text() if state.exists() else 0} stable=rest")
"""


@pytest.fixture
def platform(tmp_path: Path) -> Path:
    (tmp_path / "platform.py").write_text(PLATFORM)
    return tmp_path


def router(folder: Path, **fields: object) -> CommandRouter:
    spec = CommandsSpec.model_validate({"set": f"{PY} platform.py set {{{{weight}}}}",
                                        "read": f"{PY} platform.py read", **fields})
    return CommandRouter(spec, cwd=folder, values={"version": "v2", "previousVersion": "v1", "release": "r"},
                         secrets=["s3cr3t-t0ken"])


def test_set_then_read_back_through_the_platforms_cli(platform: Path) -> None:
    async def main() -> None:
        r = router(platform, parse=r"canary=(\d+(?:\.\d+)?)")
        await r.set_weight(12.5)
        assert (platform / "weight.txt").read_text() == "12.5"
        assert await r.current_weight() == 12.5
        await r.kill()  # no kill command: set at 0
        assert await r.current_weight() == 0

    asyncio.run(main())


def test_a_failing_command_is_a_target_error_with_its_last_line_and_no_secret(platform: Path) -> None:
    spec = CommandsSpec(set=f"{PY} platform.py set fail", read=f"{PY} platform.py read")
    r = CommandRouter(spec, cwd=platform, values={}, secrets=["s3cr3t-t0ken"])
    with pytest.raises(TargetError) as caught:
        asyncio.run(r.set_weight(5))
    assert "exited 3: error: the cluster refused the change (token [redacted])" in caught.value.message
    assert "s3cr3t-t0ken" not in str(caught.value)


def test_values_never_become_arguments_or_commands_without_a_shell(tmp_path: Path) -> None:
    values = {"version": "v2; touch pwned", "previousVersion": "v1", "release": "r"}
    ran = asyncio.run(process.run(f"{PY} -c 'import sys; print(sys.argv[1:])' {{{{version}}}}", values=values,
                                  cwd=tmp_path, timeout=10))
    assert ran.output.strip() == "['v2; touch pwned']"
    assert not (tmp_path / "pwned").exists()


def test_with_a_shell_values_are_quoted(tmp_path: Path) -> None:
    ran = asyncio.run(process.run("echo {{version}} | tr a-z A-Z", values={"version": "v2; touch pwned"},
                                  cwd=tmp_path, timeout=10, shell=True))
    assert ran.ok and ran.output.strip() == "V2; TOUCH PWNED"
    assert not (tmp_path / "pwned").exists()


def test_a_command_over_its_timeout_is_killed_with_its_children(tmp_path: Path) -> None:
    ran = asyncio.run(process.run("sh -c 'sleep 30 & sleep 30'", values={}, cwd=tmp_path, timeout=0.3))
    assert ran.exit_code is None and "ran over its timeout" in ran.describe()


def test_a_read_that_prints_no_weight_says_what_it_printed() -> None:
    with pytest.raises(TargetError, match="printed no weight \\('route not found'\\)"):
        parse_weight("route not found", None)
    assert parse_weight("weights: stable 75, canary 25", r"canary (\d+)") == 25
