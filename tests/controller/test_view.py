"""The live view at 80 columns: nothing overruns, reasons wrap whole, the stage's ETA and what the release
waits for are shown, and a long run redraws a bounded number of times."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

from rich.cells import cell_len
from rich.console import Console

from launchdeck.controller.view import LiveView, PlainView, render
from launchdeck.runbook.waiting import Waiting

WALL_NOW = datetime(2026, 2, 3, 14, 0, tzinfo=UTC).timestamp()
LONG_REASON = ("error-non-regression: error rate significantly above baseline +0% — canary 3.00% (95% CI "
               "2.03%–4.26%) vs stable 0.10% (95% CI 0.05%–0.19%) over the window; evidence 2.1e+20 ≥ 1/alpha = "
               "200 after 1000 canary and 9000 stable requests")


def snapshot(**changes: Any) -> dict[str, Any]:
    snap: dict[str, Any] = {
        "release": "intelgraph-platform-v0.1.0-production-canary", "phase": "stage", "stage": 2, "stages": 4,
        "weight": 25.0, "hold": 1200.0, "inStage": 480.0, "holdLeft": 720.0, "now": 1680.0, "timeScale": 60.0,
        "numbers": {"stable": {"error_rate": 0.001, "p95_ms": 198.0, "requests": 1893},
                    "canary": {"error_rate": 0.03, "p95_ms": 150.0, "requests": 94}},
        "gates": {"error-non-regression-on-the-checkout-api": "breach", "api-p95-regression": "pass"},
        "verdicts": {"error-non-regression-on-the-checkout-api": {"reason": LONG_REASON},
                     "api-p95-regression": {"reason": "api-p95-regression: canary latency_p95_ms 150ms <= 237ms"}},
        "window": None, "outcome": None, "reason": "", "waiting": None,
    }
    snap.update(changes)
    return snap


def shown(snap: dict[str, Any]) -> str:
    console = Console(width=80, record=True, file=io.StringIO(), color_system=None)
    console.print(render(snap, WALL_NOW))
    return console.export_text()


def test_no_line_of_the_live_view_is_wider_than_80_columns() -> None:
    signoff = Waiting("sign-off", ("product-owner",), 2, 2400.0, "the run ends held")
    for snap in (snapshot(), snapshot(waiting=signoff), snapshot(phase="done", outcome="rolled_back",
                                                                  reason=LONG_REASON)):
        lines = shown(snap).splitlines()
        assert max(cell_len(line) for line in lines) <= 80, "\n".join(lines)


def test_a_long_reason_wraps_with_every_word_kept() -> None:
    lines = shown(snapshot()).splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("gate "))
    column = lines[header].index("why")
    why = " ".join(" ".join(line[column:] for line in lines[header + 1:header + 9]).split())
    assert LONG_REASON.removeprefix("error-non-regression: ") in why


def test_the_stage_hold_shows_its_end_in_wall_clock_time() -> None:
    # 720 plan seconds left at time scale 60: 12 wall seconds from 14:00:00.
    assert "hold 8 min of 20 min, ends 14:00 UTC (in 12 s)" in shown(snapshot())
    later = snapshot(timeScale=1.0)
    assert "ends 14:12 UTC (in 12 min)" in shown(later)


def test_a_waiting_sign_off_is_shown_with_deadline_and_command() -> None:
    signoff = Waiting("sign-off", ("product-owner",), 2, 1680.0 + 600, "the run ends held")
    lines = [" ".join(line.split()) for line in shown(snapshot(waiting=signoff, timeScale=1.0)).splitlines()]
    at = lines.index("waiting for sign-off from product-owner (stage 2)")
    assert lines[at + 1] == "deadline 14:10 UTC (in 10 min), then the run ends held"
    assert " ".join(lines[at + 2:]) == ("run: launchdeck approve intelgraph-platform-v0.1.0-production-canary "
                                        "--stage 2 --role product-owner --as NAME")


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_forty_seconds_of_ticks_redraw_at_most_twice_a_second_in_bounded_bytes() -> None:
    out = io.StringIO()
    clock = FakeClock()
    console = Console(width=80, file=out, force_terminal=True, color_system="truecolor")
    view = LiveView(console=console, clock=clock, wall=lambda: WALL_NOW + clock.t)
    for i in range(800):  # a tick every 50 ms for 40 s, plan time at 60x
        clock.t = i * 0.05
        view.tick(snapshot(inStage=clock.t * 60, holdLeft=1200 - clock.t * 60, now=600 + clock.t * 60))
    view.close()
    assert view.redraws <= 2 * 40 + 1
    assert len(out.getvalue().encode()) < 120_000, len(out.getvalue().encode())


def test_an_unchanged_view_is_not_redrawn() -> None:
    clock = FakeClock()
    view = LiveView(console=Console(width=80, file=io.StringIO(), force_terminal=True), clock=clock,
                    wall=lambda: WALL_NOW)
    for i in range(100):
        clock.t = i * 1.0
        view.tick(snapshot(timeScale=1.0, holdLeft=720.0, now=1680.0))
    view.close()
    assert view.redraws == 1


def test_plain_lines_say_the_wait_once_and_the_eta() -> None:
    out = io.StringIO()
    clock = FakeClock()
    view = PlainView(out, clock=clock, wall=lambda: WALL_NOW)
    signoff = Waiting("sign-off", ("product-owner",), 2, 1680.0 + 600, "the run ends held")
    for i in range(70):  # 35 s
        clock.t = i * 0.5
        view.tick(snapshot(waiting=signoff, timeScale=1.0))
    text = out.getvalue()
    assert text.count("waiting for sign-off from product-owner (stage 2)") == 2  # at once, and 30 s later
    assert "hold 8 min of 20 min, ends 14:12 UTC (in 12 min)" in text


def test_a_same_age_baseline_is_shown_beside_the_other_two() -> None:
    numbers = {**snapshot()["numbers"], "baseline": {"error_rate": 0.0, "p95_ms": 151.0, "requests": 96}}
    rows = [line.split() for line in shown(snapshot(numbers=numbers)).splitlines()]
    assert ["baseline", "0.00%", "151", "ms", "96"] in rows
    out = io.StringIO()
    PlainView(out, clock=FakeClock(), wall=lambda: WALL_NOW).tick(snapshot(numbers=numbers))
    assert "| baseline err 0.00% p95 151 ms n=96 |" in out.getvalue()
