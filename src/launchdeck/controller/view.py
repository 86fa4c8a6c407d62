"""What the person at the terminal sees: a Rich live view on a terminal, plain progress lines otherwise.

Both show the stage with a wall-clock estimate of when its hold ends, and what the release waits
for from people (with the deadline and the command to run). The live view redraws at most
``max_redraws`` times a second and only when what it shows changed: a terminal recorded over a
long run must stay small.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from launchdeck.core.durations import human, in_text
from launchdeck.core.engine import Decision
from launchdeck.runbook import waiting as wait

_QUIET = {"evaluation", "rollback.step"}
_STATUS_COLOURS = {"pass": "green", "pending": "dim", "breach": "yellow", "fired": "bold red"}
_OUTCOME_COLOURS = {"promoted": "bold green", "rolled_back": "bold red", "held": "bold yellow", "refused": "bold yellow"}

Clock = Callable[[], float]


def _pct(v: Any) -> str:
    return "n/a" if v is None else f"{v * 100:.2f}%"


def _ms(v: Any) -> str:
    return "n/a" if v is None else f"{v:.0f} ms"


def hold_text(snap: dict[str, Any], wall_now: float) -> str:
    """``hold 11 min of 20 min, ends 14:32 UTC (in 9 min)`` — plan time done, and the wall-clock ETA."""
    done = human(min(snap["inStage"], snap["hold"]))
    text = f"hold {done} of {human(snap['hold'])}"
    if snap["phase"] == "done":
        return text
    left = snap.get("holdLeft", max(0.0, snap["hold"] - snap["inStage"]))
    if left <= 0:
        return f"{text}, over"
    eta = wait.to_wall(snap["now"] + left, now=snap["now"], time_scale=snap.get("timeScale", 1.0), wall_now=wall_now)
    return f"{text}, ends {wait.clock(eta, wall_now)}"


def waiting_text(snap: dict[str, Any], wall_now: float) -> str | None:
    """The release's wait for people in one line (see ``runbook.waiting.describe``), or None."""
    w: wait.Waiting | None = snap.get("waiting")
    if w is None or snap["phase"] == "done":
        return None
    deadline = None if w.deadline is None else wait.to_wall(w.deadline, now=snap["now"],
                                                            time_scale=snap.get("timeScale", 1.0), wall_now=wall_now)
    return wait.describe(w, snap["release"], deadline_wall=deadline, wall_now=wall_now)


def _gate_reason(name: str, reason: str) -> str:
    # A verdict's reason starts with its gate's name, which the table already shows.
    return in_text(reason.removeprefix(f"{name}: "))


class PlainView:
    """One line per decision and a status line every few seconds: readable in CI logs. What the release
    waits for from people is said when it starts, then again every ``remind`` seconds."""

    def __init__(self, stream: TextIO | None = None, every: float = 2.0, prefix: str = "", *,
                 remind: float = 30.0, clock: Clock = time.monotonic, wall: Clock = time.time) -> None:
        self.stream = stream or sys.stderr
        self.every, self.remind = every, remind
        self.prefix = f"{prefix} " if prefix else ""
        self.clock, self.wall = clock, wall
        self._last: float | None = None
        self._waiting: str | None = None
        self._said_at = 0.0

    def note(self, text: str) -> None:
        print(f"{self.prefix}launchdeck: {text}", file=self.stream, flush=True)

    def decision(self, d: Decision) -> None:
        if d.kind not in _QUIET:
            print(f"{self.prefix}[t+{d.at:7.0f}s] {d.kind}: {in_text(d.reason)}", file=self.stream, flush=True)

    def tick(self, snap: dict[str, Any]) -> None:
        waiting = waiting_text(snap, self.wall())
        # A new wait is said at once (its text then only changes as the deadline nears), and repeated.
        new_wait = waiting is not None and (self._waiting is None or waiting.split(" — ")[0] != self._waiting.split(" — ")[0])
        self._waiting = waiting
        if waiting and (new_wait or self.clock() - self._said_at >= self.remind):
            self._said_at = self.clock()
            print(f"{self.prefix}launchdeck: {waiting}", file=self.stream, flush=True)
        if self._last is not None and self.clock() - self._last < self.every and snap["phase"] != "done":
            return
        self._last = self.clock()
        n = snap["numbers"]
        gates = " ".join(f"{k}={v}" for k, v in snap["gates"].items())
        versions = ("canary", "stable") + (("baseline",) if "baseline" in n else ())
        figures = " | ".join(f"{v} err {_pct(n.get(v, {}).get('error_rate'))} p95 {_ms(n.get(v, {}).get('p95_ms'))} "
                             f"n={n.get(v, {}).get('requests', 0)}" for v in versions)
        print(f"{self.prefix}[t+{snap['now']:7.0f}s] stage {snap['stage']}/{snap['stages']} weight {snap['weight']:g}% "
              f"{hold_text(snap, self.wall())} | {figures} | {gates}", file=self.stream, flush=True)


def render(snap: dict[str, Any], wall_now: float) -> RenderableType:
    """The live view of one snapshot: it fits any width (long text wraps; nothing is cut)."""
    head = Text.assemble((snap["release"], "bold"), f" · stage {snap['stage']}/{snap['stages']} · ",
                         (f"canary {snap['weight']:g}%", "bold magenta"), f" · {snap['phase']}")
    hold = snap["hold"] or 1.0
    done = min(snap["inStage"], hold)
    bar = Table.grid(expand=True, padding=(0, 1))
    bar.add_column(ratio=1)
    bar.add_column(no_wrap=True, justify="right")
    bar.add_row(ProgressBar(total=hold, completed=done), f"{done / hold:4.0%}")
    numbers = Table("version", "error rate", "p95", "requests (window)", box=None, padding=(0, 1), pad_edge=False)
    for version in ("stable", "canary") + (("baseline",) if "baseline" in snap["numbers"] else ()):
        n = snap["numbers"].get(version, {})
        numbers.add_row(version, _pct(n.get("error_rate")), _ms(n.get("p95_ms")), str(n.get("requests", 0)))
    parts: list[RenderableType] = [head, bar, Text(hold_text(snap, wall_now)), numbers]
    if snap["gates"]:
        gates = Table("gate", "state", "why", box=None, expand=True, padding=(0, 1), pad_edge=False)
        gates.columns[0].overflow, gates.columns[0].max_width = "fold", 24
        gates.columns[1].no_wrap = True
        gates.columns[2].ratio, gates.columns[2].overflow = 1, "fold"
        for name, status in snap["gates"].items():
            why = _gate_reason(name, snap["verdicts"].get(name, {}).get("reason", ""))
            gates.add_row(name, Text(status, style=_STATUS_COLOURS.get(status, "")), why)
        parts.append(gates)
    waiting = waiting_text(snap, wall_now)
    if waiting:
        # What, until when, and the command: one line each, so a deadline never breaks across lines.
        first, *rest = waiting.split(" — ")
        parts.append(Text("\n".join([first, *(f"  {r}" for r in rest)]), style="bold yellow"))
    if snap["phase"] == "done" and snap.get("outcome"):
        parts.append(Text.assemble(("outcome ", "bold"), (snap["outcome"], _OUTCOME_COLOURS.get(snap["outcome"], "")),
                                   f" — {in_text(snap['reason'])}" if snap.get("reason") else ""))
    return Group(*parts)


def _shown(snap: dict[str, Any], wall_now: float) -> tuple[Any, ...]:
    """What the live view would show, to redraw only when it changed (the bar moves in whole percent)."""
    hold = snap["hold"] or 1.0
    return (snap["phase"], snap["stage"], snap["weight"], int(100 * min(snap["inStage"], hold) / hold),
            hold_text(snap, wall_now), repr(snap["numbers"]), repr(snap["gates"]),
            tuple(v.get("reason") for v in snap["verdicts"].values()), waiting_text(snap, wall_now), snap.get("outcome"))


class LiveView:
    """Stage, weight, hold progress and ETA, per-version numbers, each gate's state and reason, and what
    the release waits for, redrawn in place at most ``max_redraws`` times a second."""

    def __init__(self, stream: TextIO | None = None, *, console: Console | None = None, max_redraws: float = 2.0,
                 clock: Clock = time.monotonic, wall: Clock = time.time) -> None:
        self.console = console or Console(file=stream or sys.stderr)
        self.live = Live(console=self.console, auto_refresh=False, transient=False)
        self.min_interval = 1.0 / max_redraws
        self.clock, self.wall = clock, wall
        self.redraws = 0
        self._drawn_at: float | None = None
        self._shown: tuple[Any, ...] | None = None
        self._pending: dict[str, Any] | None = None
        self.live.start()

    def close(self) -> None:
        if self._pending is not None:
            self._draw(self._pending)
        self.live.stop()

    def note(self, text: str) -> None:
        self.console.print(Text.assemble(("launchdeck: ", "cyan"), text))

    def decision(self, d: Decision) -> None:
        if d.kind not in _QUIET:
            self.console.print(Text.assemble((f"t+{d.at:.0f}s ", "dim"), (d.kind, "bold"), f" {in_text(d.reason)}"))

    def tick(self, snap: dict[str, Any]) -> None:
        self._pending = snap
        if snap["phase"] != "done" and self._drawn_at is not None and self.clock() - self._drawn_at < self.min_interval:
            return
        self._draw(snap)

    def _draw(self, snap: dict[str, Any]) -> None:
        self._pending = None
        wall_now = self.wall()
        shown = _shown(snap, wall_now)
        if shown == self._shown:
            return
        self._shown, self._drawn_at = shown, self.clock()
        self.redraws += 1
        self.live.update(render(snap, wall_now), refresh=True)
