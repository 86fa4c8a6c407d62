"""Commands that look at a release: status, why."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from launchdeck.cli.common import (DEFAULT_URL, EXIT_CODES, Choice, DbOption, Output, Scenario, Stack, app,
                                   audit_app, bench_app, evidence_app, keys_app, _existing_store, _parse_start)
from launchdeck.errors import UsageError


@app.command()
def status(release: Annotated[str, typer.Argument()], db: DbOption = DEFAULT_URL) -> None:
    """Where a release is: phase, stage, weight, gates."""

    found = _existing_store(db).require(name=release)
    e = found.state["engine"]
    typer.echo(f"{found.name}: {e['phase']} stage {e['stage'] + 1} weight {e['weight']:g}% "
               f"outcome {found.outcome or '-'} (plan time {found.plan_clock:.0f}s)")
    for name, g in e.get("gates", {}).items():
        typer.echo(f"  {name}: {g['status']} — {g['reason']}")
    if e.get("window"):
        w = e["window"]
        typer.echo(f"  decision window on {w['gate']}: {', '.join(w['authority'])} may decide; default {w['default']}")


@app.command()
def why(release: Annotated[str, typer.Argument()], all_: Annotated[bool, typer.Option("--all", help="Include every evaluation.")] = False,
        db: DbOption = DEFAULT_URL) -> None:
    """The release's decisions in order, each with its reason."""

    store = _existing_store(db)
    found = store.require(name=release)
    for d in store.decisions(release_id=found.id):
        if d.kind == "evaluation" and not all_:
            continue
        typer.echo(f"#{d.seq:<4} t+{d.plan_at:>7.0f}s {d.kind:<18} {d.reason}")


