"""The ``command`` router: any platform with a CLI moves the canary's traffic (kubectl, a cloud CLI,
Vercel), through the plan's commands.

``set`` moves the weight (``{{weight}}`` is the canary's percent, ``{{stableWeight}}`` the rest;
``{{version}}``, ``{{previousVersion}}`` and ``{{release}}`` name what is released); ``read`` prints the
canary's weight as the platform reports it, read back after every ``set``: the first number in its
output, or the first group of ``parse``. ``kill`` and ``drain`` default to ``set`` at weight 0. A command
that exits non-zero, runs over its timeout or prints no weight is a TargetError naming the command and
its last line of output (secrets redacted), so a weight that did not take is never reported as done.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from launchdeck.adapters import process
from launchdeck.adapters.routers import Split, check_percent, no_baseline
from launchdeck.errors import TargetError
from launchdeck.plan.hooks_model import CommandsSpec

_NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?")


class CommandRouter:
    """A :class:`~launchdeck.adapters.routers.Router` whose every move is one of the plan's commands."""

    def __init__(self, spec: CommandsSpec, *, cwd: Path, values: Mapping[str, str], secrets: list[str] | None = None,
                 env: Mapping[str, str] | None = None) -> None:
        self.spec = spec
        self.cwd = cwd
        self.values = dict(values)
        self.secrets = list(secrets or []) + process.secret_values(spec.secret_env)
        self.env = dict(env or {})
        self.last: process.Ran | None = None
        """The last command run, for the evidence."""

    @property
    def type(self) -> str:
        return "command"

    async def set_weight(self, canary_percent: float, baseline_percent: float = 0.0) -> None:
        no_baseline("command", baseline_percent)  # the commands set one weight: the canary's
        await self._must(self.spec.set, check_percent(canary_percent), "set")

    async def current_split(self) -> Split:
        return Split(await self.current_weight())

    async def current_weight(self) -> float:
        ran = await self._must(self.spec.read, None, "read")
        return parse_weight(ran.output, self.spec.parse, ran.command)

    async def kill(self) -> None:
        await self._must(self.spec.kill or self.spec.set, 0.0, "kill")

    async def drain(self) -> None:
        await self._must(self.spec.drain or self.spec.set, 0.0, "drain")

    async def _must(self, command: str, weight: float | None, what: str) -> process.Ran:
        values = dict(self.values)
        if weight is not None:
            values |= {"weight": f"{weight:g}", "stableWeight": f"{100.0 - weight:g}"}
        ran = await process.run(command, values=values, cwd=self.cwd, timeout=self.spec.timeout,
                                shell=self.spec.shell, secrets=self.secrets, env=self.env)
        self.last = ran
        if not ran.ok:
            raise TargetError(f"the router's {what} command failed: {ran.describe()}",
                              hint=f"run it by hand in {self.cwd} to see why; router.commands.{what} in the plan")
        return ran


def parse_weight(output: str, pattern: str | None, command: str = "read") -> float:
    """The canary's weight in a read command's output: the first group of ``pattern``, or the first number."""
    found = re.search(pattern, output) if pattern else _NUMBER.search(output)
    text = (found.group(1) if pattern and found and found.groups() else found.group(0)) if found else None
    if text is None:
        shown = output.strip()[-200:] or "nothing"
        raise TargetError(f"`{command}` printed no weight ({shown!r})",
                          hint="make the read command print the canary's percent, or set router.commands.parse to a "
                               "pattern whose first group captures it")
    try:
        return check_percent(float(text))
    except ValueError as e:
        raise TargetError(f"`{command}` printed {text!r}, not a number of percent", hint="fix router.commands.parse") from e
