"""The chat command grammar, pure: a slash command's name and text in, a command value (or the reason it is
malformed, with the usage line) out. Nothing here looks anything up.

Commands (``/launchdeck <command>``; ``/approve …`` is ``/launchdeck approve …``)::

    approve canary VERSION → ENV (REGION, RESIDENCY) steps: 5/25/50/100 kill-switch:NAME [service:NAME]
    approve RELEASE stage N
    status [RELEASE]      why RELEASE      go RELEASE      no-go RELEASE
    rollback RELEASE      kill RELEASE     help

``→`` may be written ``->``; steps are percentages (``%`` optional), rising, each above 0 and at most 100.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

RELEASE = r"[a-z0-9][a-z0-9._#-]*"
USAGE = {
    "canary": "/approve canary VERSION → ENV (REGION, RESIDENCY) steps: 5/25/50/100 kill-switch:NAME",
    "approve": "/launchdeck approve RELEASE stage N",
    "status": "/launchdeck status [RELEASE]",
    "why": "/launchdeck why RELEASE",
    "go": "/launchdeck go RELEASE",
    "no-go": "/launchdeck no-go RELEASE",
    "rollback": "/launchdeck rollback RELEASE",
    "kill": "/launchdeck kill RELEASE",
    "help": "/launchdeck help",
}
_CANARY = re.compile(
    r"^canary\s+(?P<version>[A-Za-z0-9][A-Za-z0-9._+-]*)\s*->\s*(?P<env>[A-Za-z0-9][A-Za-z0-9._-]*)\s*"
    r"\(\s*(?P<region>[^,()]+?)\s*,\s*(?P<residency>[^,()]+?)\s*\)\s+"
    r"steps:\s*(?P<steps>[0-9.%/\s]+?)\s+kill-switch:\s*(?P<kill>[A-Za-z0-9][A-Za-z0-9._:-]*)"
    r"(?:\s+service:\s*(?P<service>[a-z0-9][a-z0-9._-]*))?\s*$")


@dataclass(frozen=True)
class StartCanary:
    version: str
    environment: str
    region: str
    residency: str
    steps: tuple[float, ...]
    """Weights in percent, rising."""
    kill_switch: str
    service: str | None = None


@dataclass(frozen=True)
class Approve:
    release: str
    stage: int


@dataclass(frozen=True)
class Status:
    release: str | None = None


@dataclass(frozen=True)
class Why:
    release: str


@dataclass(frozen=True)
class GoNoGo:
    release: str
    choice: str
    """``go`` or ``no-go``."""


@dataclass(frozen=True)
class Rollback:
    release: str


@dataclass(frozen=True)
class Kill:
    release: str


@dataclass(frozen=True)
class Help:
    pass


@dataclass(frozen=True)
class Malformed:
    problem: str
    usage: str
    """The usage line(s) of the command that was meant, or of every command."""


Command = StartCanary | Approve | Status | Why | GoNoGo | Rollback | Kill | Help | Malformed


def every_usage() -> str:
    return "\n".join(USAGE.values())


def parse(command: str, text: str) -> Command:
    """The command a slash command's name (``/launchdeck``, ``/approve``) and text ask for."""
    words = " ".join(text.replace("→", "->").replace("\u00a0", " ").split())
    name = command.strip().lstrip("/").lower()
    if name == "approve":
        words = f"approve {words}".strip()
    if not words:
        return Help()
    verb, _, rest = words.partition(" ")
    verb = verb.lower()
    if verb == "approve" and rest.lower().startswith("canary"):
        return _canary(rest)
    if verb == "approve":
        found = re.fullmatch(rf"({RELEASE})\s+stage\s+(\d{{1,3}})", rest)
        if not found:
            return Malformed("approve needs a release and a stage number", USAGE["approve"])
        return Approve(found[1], int(found[2]))
    if verb == "help":
        return Help()
    if verb == "status":
        if not rest:
            return Status()
        return Status(rest) if re.fullmatch(RELEASE, rest) else Malformed(f"'{rest}' is not a release name",
                                                                         USAGE["status"])
    one = {"why": lambda r: Why(r), "go": lambda r: GoNoGo(r, "go"), "no-go": lambda r: GoNoGo(r, "no-go"),
           "rollback": lambda r: Rollback(r), "kill": lambda r: Kill(r)}
    if verb in one:
        if not re.fullmatch(RELEASE, rest):
            return Malformed(f"{verb} needs one release name" + (f", not '{rest}'" if rest else ""), USAGE[verb])
        return one[verb](rest)  # type: ignore[no-untyped-call]
    return Malformed(f"'{verb}' is not a launchdeck command", every_usage())


def _canary(text: str) -> Command:
    found = _CANARY.match(text)
    if not found:
        return Malformed("the canary line is not in its form", USAGE["canary"])
    steps: list[float] = []
    for part in found["steps"].replace(" ", "").split("/"):
        try:
            value = float(part.removesuffix("%"))
        except ValueError:
            return Malformed(f"step '{part}' is not a percentage", USAGE["canary"])
        if not 0 < value <= 100:
            return Malformed(f"step {part} is not between 0 and 100%", USAGE["canary"])
        if steps and value <= steps[-1]:
            return Malformed(f"steps must rise: {part} comes after {steps[-1]:g}", USAGE["canary"])
        steps.append(value)
    return StartCanary(found["version"], found["env"], found["region"], found["residency"], tuple(steps),
                       found["kill"], found["service"])
