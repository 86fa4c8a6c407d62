"""Real-process stacks: a real HAProxy or nginx in front of two sample-app processes, on loopback.

Used by the integration tests, by ``bench/rollback.py`` and by ``launchdeck demo --stack``::

    async with open_stack("haproxy") as stack:      # or HAProxyStack() / NginxStack()
        await stack.router.set_weight(25)           # the real adapter, on the real program
        ...  # send requests to stack.url; stack.stable_url / stack.canary_url / stack.fleet

A program that is not installed raises :class:`~launchdeck.errors.TargetError` with the
``apt-get install`` hint; :func:`missing_programs` tells beforehand.
"""

from __future__ import annotations

from typing import Any

from launchdeck.errors import TargetError
from launchdeck.stacks._process import (
    FAST_VERSIONS,
    ProgramStack,
    find_program,
    missing_programs,
)
from launchdeck.stacks.haproxy import HAProxyStack, has_prometheus_exporter
from launchdeck.stacks.nginx import NginxStack

STACKS: dict[str, type[ProgramStack]] = {"haproxy": HAProxyStack, "nginx": NginxStack}


def open_stack(kind: str, **options: Any) -> HAProxyStack | NginxStack:
    """A (not yet started) stack by name: ``haproxy`` or ``nginx``; use it with ``async with``."""
    if kind == "haproxy":
        return HAProxyStack(**options)
    if kind == "nginx":
        return NginxStack(**options)
    raise TargetError(f"no stack named {kind!r}", hint=f"use one of: {', '.join(STACKS)}")


__all__ = [
    "FAST_VERSIONS",
    "STACKS",
    "HAProxyStack",
    "NginxStack",
    "ProgramStack",
    "find_program",
    "has_prometheus_exporter",
    "missing_programs",
    "open_stack",
]
