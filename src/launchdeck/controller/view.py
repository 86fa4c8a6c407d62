"""What the person at the terminal sees: a Rich live view on a terminal, plain progress lines otherwise."""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

from rich.console import Console, Group
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from launchdeck.core.engine import Decision

_QUIET = {"evaluation", "rollback.step"}
_STATUS_COLOURS = {"pass": "green", "pending": "dim", "breach": "yellow", "fired": "bold red"}


def _pct(v: Any) -> str:
    return "n/a" if v is None else f"{v * 100:.2f}%"


def _ms(v: Any) -> str:
    return "n/a" if v is None else f"{v:.0f} ms"


class PlainView:
    """One line per decision and a status line every few seconds: readable in CI logs."""

    def __init__(self, stream: TextIO | None = None, every: float = 2.0, prefix: str = "") -> None:
        self.stream = stream or sys.stderr
        self.every = every
        self.prefix = f"{prefix} " if prefix else ""
        self._last = 0.0

    def note(self, text: str) -> None:
        print(f"{self.prefix}launchdeck: {text}", file=self.stream, flush=True)

    def decision(self, d: Decision) -> None:
        if d.kind not in _QUIET:
            print(f"{self.prefix}[t+{d.at:7.0f}s] {d.kind}: {d.reason}", file=self.stream, flush=True)

    def tick(self, snap: dict[str, Any]) -> None:
        if time.monotonic() - self._last < self.every and snap["phase"] != "done":
            return
        self._last = time.monotonic()
        n = snap["numbers"]
        c, s = n.get("canary", {}), n.get("stable", {})
        gates = " ".join(f"{k}={v}" for k, v in snap["gates"].items())
        print(f"{self.prefix}[t+{snap['now']:7.0f}s] stage {snap['stage']}/{snap['stages']} weight {snap['weight']:g}% "
              f"hold {min(snap['inStage'], snap['hold']):.0f}/{snap['hold']:.0f}s | canary err {_pct(c.get('error_rate'))} "
              f"p95 {_ms(c.get('p95_ms'))} n={c.get('requests', 0)} | stable err {_pct(s.get('error_rate'))} "
              f"p95 {_ms(s.get('p95_ms'))} n={s.get('requests', 0)} | {gates}", file=self.stream, flush=True)


class LiveView:
    """Stage, weight, hold progress, per-version numbers and each gate's state, redrawn in place."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.console = Console(file=stream or sys.stderr)
        self.live = Live(console=self.console, refresh_per_second=8, transient=False)
        self.recent: list[str] = []
        self.live.start()

    def close(self) -> None:
        self.live.stop()

    def note(self, text: str) -> None:
        self.console.print(f"[cyan]launchdeck:[/] {text}")

    def decision(self, d: Decision) -> None:
        if d.kind not in _QUIET:
            self.console.print(f"[dim]t+{d.at:.0f}s[/] [bold]{d.kind}[/] {d.reason}")

    def tick(self, snap: dict[str, Any]) -> None:
        head = Text.assemble((f"{snap['release']}  ", "bold"), f"stage {snap['stage']}/{snap['stages']}  ",
                             (f"canary {snap['weight']:g}%  ", "bold magenta"), f"phase {snap['phase']}")
        hold = snap["hold"] or 1.0
        bar = ProgressBar(total=hold, completed=min(snap["inStage"], hold), width=40)
        numbers = Table("version", "error rate", "p95", "requests (window)", box=None)
        for version in ("stable", "canary"):
            n = snap["numbers"].get(version, {})
            numbers.add_row(version, _pct(n.get("error_rate")), _ms(n.get("p95_ms")), str(n.get("requests", 0)))
        gates = Table("gate", "state", "why", box=None)
        for name, status in snap["gates"].items():
            why = snap["verdicts"].get(name, {}).get("reason", "")
            gates.add_row(name, Text(status, style=_STATUS_COLOURS.get(status, "")), why[:110])
        hold_line = Text(f"hold {min(snap['inStage'], snap['hold']):.0f}s / {snap['hold']:.0f}s of plan time")
        self.live.update(Group(head, Group(bar, hold_line), numbers, gates))
