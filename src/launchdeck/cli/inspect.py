"""Commands that look at releases: list, status (once, as JSON, or watched), why."""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime
from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import quote

import typer

from launchdeck.cli.common import DEFAULT_URL, EXIT_CODES, DbOption, Output, TenantOption, _existing_store, app
from launchdeck.cli.remote import ServerOption, TokenOption, remote
from launchdeck.errors import UsageError
from launchdeck.services.reading import decision_object, listing, position, status_object

OutputOption = Annotated[Output, typer.Option("--output", help="json: machine-readable output on stdout.")]


@app.command(name="list")
def list_(output: OutputOption = Output.text, db: DbOption = DEFAULT_URL, tenant: TenantOption = None) -> None:
    """Every release in the store (or one tenant's), newest first; earlier runs kept as name#id are marked archived."""
    with _existing_store(db) as store:
        rows = [listing(r) for r in store.releases(tenant=tenant)]
    if output is Output.json:
        typer.echo(json.dumps(rows))
        return
    if not rows:
        typer.echo("no releases yet: `launchdeck run PLAN` starts one")
        return
    headers = ("release", "state", "stage", "weight", "outcome", "updated")
    table = [(r["name"] + (" (archived)" if r["archived"] else ""),
              r["phase"] + (" NOT DRIVEN" if (r["driving"] or {}).get("gaveUpAt") else ""), str(r["stage"]), f"{r['weight']:g}%",
              r["outcome"] or "-", _short_time(r["updatedAt"])) for r in rows]
    _print_table(headers, table)


@app.command()
def status(release: Annotated[str, typer.Argument()], output: OutputOption = Output.text,
           watch: Annotated[bool, typer.Option("--watch", help="Refresh until the release ends (exit status: its "
                                                               "outcome's) or Ctrl-C.")] = False,
           interval: Annotated[str, typer.Option("--interval", help="How often --watch reads the store.")] = "1s",
           db: DbOption = DEFAULT_URL, server: ServerOption = None, token: TokenOption = None,
           tenant: TenantOption = None) -> None:
    """Where a release is: phase, stage, weight, gates, and what it waits for from people."""
    every = _interval(interval)
    api = remote(server, token)
    if api is not None:
        fetch: Callable[[], dict[str, Any]] = lambda: api.call("GET", f"/releases/{quote(release, safe='')}")
        _show(fetch, output, every, watch)
        return
    with _existing_store(db) as store:
        store.require(name=release, tenant=tenant)
        _show(lambda: _local_status(store, release, tenant), output, every, watch)


@app.command()
def why(release: Annotated[str, typer.Argument()],
        all_: Annotated[bool, typer.Option("--all", help="Include every evaluation.")] = False,
        output: OutputOption = Output.text, db: DbOption = DEFAULT_URL, server: ServerOption = None,
        token: TokenOption = None, tenant: TenantOption = None) -> None:
    """The release's decisions in order, each with its reason (as JSON: with the inputs it was decided on)."""
    api = remote(server, token)
    if api is not None:
        rows = [d for d in api.call("GET", f"/releases/{quote(release, safe='')}/decisions")
                if all_ or d["kind"] != "evaluation"]
    else:
        with _existing_store(db) as store:
            found = store.require(name=release, tenant=tenant)
            rows = [decision_object(d) for d in store.decisions(release_id=found.id) if all_ or d.kind != "evaluation"]
    if output is Output.json:
        typer.echo(json.dumps(rows))
        return
    for d in rows:
        typer.echo(f"#{d['seq']:<4} t+{d['planAt']:>7.0f}s {d['kind']:<18} {d['reason']}")


def _local_status(store: Any, release: str, tenant: str | None = None) -> dict[str, Any]:
    found = store.require(name=release, tenant=tenant)
    s = status_object(found)
    s["_window"] = found.state.get("engine", {}).get("window")  # for a state written before waits were kept
    return s


# -- the state, for a person (the object `--output json` prints is built in services.reading) -------------


def status_lines(s: dict[str, Any], wall_now: float) -> list[str]:
    """`status` for a person, from the status object: the headline, each gate with its reason, and what the
    release waits for."""
    head = f"{s['release']}: {position(s)} (plan time {s['planTime']:.0f}s)"
    from launchdeck.core.durations import in_text

    lines = [head] + [f"  {name}: {g['status']} — {in_text(g['reason'])}" for name, g in s["gates"].items()]
    if s["outcome"] and s["reason"]:
        lines.append(f"  {s['outcome']}: {in_text(s['reason'])}")
    driving = s.get("driving")
    if driving and driving["gaveUpAt"]:
        lines.append(f"  NOT DRIVEN: the workers gave it up after {driving['failures']} failed attempts in a row "
                     f"(the last: {driving['lastError']}); fix the cause, then `launchdeck resume {s['release']} "
                     "--role ROLE --as NAME`")
    elif driving:
        lines.append(f"  {driving['failures']} failed attempt(s) to drive it (the last: {driving['lastError']}); "
                     f"next attempt at {driving['retryAt'] or 'once a worker is free'}")
    waiting = waiting_line(s["release"], s["waiting"], wall_now)
    window = s.get("_window")
    if waiting:
        lines.append(f"  {waiting}")
    elif window and not s["outcome"]:  # a state written before waits were kept
        lines.append(f"  decision window on {window['gate']}: {', '.join(window['authority'])} may decide; "
                     f"default {window['default']}")
    return lines


def waiting_line(release: str, data: dict[str, Any] | None, wall_now: float) -> str | None:
    from launchdeck.runbook import waiting as wait

    if not data:
        return None
    deadline = datetime.fromisoformat(data["deadlineAt"]).timestamp() if data.get("deadlineAt") else None
    return wait.describe(wait.Waiting.from_json(data), release, deadline_wall=deadline, wall_now=wall_now)


def _show(fetch: Callable[[], dict[str, Any]], output: Output, every: float, watch: bool) -> None:
    if not watch:
        s = fetch()
        if output is Output.json:
            s.pop("_window", None)
            typer.echo(json.dumps(s))
        else:
            typer.echo("\n".join(status_lines(s, time.time())))
        return
    raise typer.Exit(_watch(fetch, output, every))


def _watch(fetch: Callable[[], dict[str, Any]], output: Output, every: float) -> int:
    """Show the release's status each time it changes until it ends; returns its outcome's exit status.

    Plain output (a pipe, CI, --output json) prints each change once; a terminal redraws in place."""
    live = None
    if output is Output.text and sys.stdout.isatty():
        from rich.console import Console
        from rich.live import Live

        live = Live(console=Console(), auto_refresh=False)
        live.start()
    shown: str | None = None
    try:
        while True:
            s = fetch()
            if output is Output.json:
                s.pop("_window", None)
            text = json.dumps(s) if output is Output.json else "\n".join(status_lines(s, time.time()))
            if text != shown:
                shown = text
                if live is not None:
                    from rich.text import Text

                    live.update(Text(text), refresh=True)
                else:
                    typer.echo(text + ("" if output is Output.json else "\n"))
            if s["outcome"]:
                return EXIT_CODES.get(s["outcome"], 1)
            time.sleep(every)
    except KeyboardInterrupt:
        return 130
    finally:
        if live is not None:
            live.stop()


# -- helpers ----------------------------------------------------------------------------------------------


def _interval(text: str) -> float:
    from launchdeck.plan import units

    try:
        seconds = units.parse_duration(text)
    except ValueError as e:
        raise UsageError(f"--interval: {e}", hint="e.g. --interval 1s or --interval 500ms") from None
    if seconds < 0.1:
        raise UsageError(f"--interval {text} is too short", hint="read the store at most ten times a second")
    return seconds


def _short_time(iso: str | None) -> str:
    return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M UTC") if iso else "-"


def _print_table(headers: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    """A Rich table on a terminal; aligned plain columns otherwise (pipes, grep, CI logs)."""
    if sys.stdout.isatty():
        from rich.console import Console
        from rich.table import Table

        table = Table(*headers, box=None, pad_edge=False)
        for row in rows:
            table.add_row(*row)
        Console().print(table)
        return
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    for row in (headers, *rows):
        typer.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
