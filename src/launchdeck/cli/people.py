"""Commands people use while a release runs: approve, checklist, go / no-go, kill."""

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
def approve(release: Annotated[str, typer.Argument(help="The release name (metadata.name).")],
            role: Annotated[str, typer.Option("--role", help="The role you sign for.")],
            who: Annotated[str, typer.Option("--as", help="Your name, as listed under roles.")],
            stage: Annotated[Optional[int], typer.Option("--stage", min=1, help="Sign off leaving stage N.")] = None,
            checklist: Annotated[Optional[str], typer.Option("--checklist", help="Sign a checklist (e.g. T-1h).")] = None,
            decision: Annotated[Optional[Choice], typer.Option("--decision", help="Decide an open decision window or hold.")] = None,
            reason: Annotated[str, typer.Option("--reason")] = "",
            db: DbOption = DEFAULT_URL) -> None:
    """Sign off a stage or decide (continue / roll back) while a run waits."""
    from launchdeck.runbook import roles

    if sum(x is not None for x in (stage, decision, checklist)) != 1:
        raise UsageError("give exactly one of --stage N, --checklist NAME or --decision rollback|continue",
                         hint="e.g. launchdeck approve REL --role sre --as sam --stage 1")
    store = _existing_store(db)
    found = store.require(name=release)
    if found.outcome:
        raise UsageError(f"release {release} already ended ({found.outcome}); nothing waits for a decision")
    plan_roles = {r: set(p) for r, p in found.state.get("roles", {}).items()}
    refused = roles.refusal(plan_roles, who, role)
    if refused:
        raise UsageError(f"sign-off refused: {refused}", hint="sign with a role the plan gives you")
    if checklist is not None:
        names = found.state.get("checklists", {})
        if checklist not in names:
            raise UsageError(f"release {release} has no checklist '{checklist}'",
                             hint=f"checklists: {', '.join(names) or 'none'}")
        if role not in names[checklist]:
            raise UsageError(f"checklist {checklist} is not signed by role '{role}'",
                             hint=f"it needs: {', '.join(names[checklist])}")
    store.add_signoff(release_id=found.id, who=who, role=role, stage=stage, checklist=checklist,
                      decision=decision.value if decision else None, reason=reason)
    what = f"stage {stage}" if stage else f"checklist {checklist}" if checklist else f"decision '{decision.value}'" if decision else ""
    typer.echo(f"recorded: {who} ({role}) {what} for {release}")



@app.command()
def checklist(release: Annotated[str, typer.Argument()], db: DbOption = DEFAULT_URL) -> None:
    """Each checklist: when it is due, who signed, who is still missing."""
    from datetime import datetime

    from launchdeck.controller import preflight
    from launchdeck.plan import load_plan

    store = _existing_store(db)
    found = store.require(name=release)
    loaded = load_plan(found.plan_path)
    spec = loaded.doc.spec  # type: ignore[union-attr]
    start = datetime.fromisoformat(found.state.get("plannedStart") or found.state["startedAt"])
    missing_any = False
    for st in preflight.checklist_status(spec, store, found.id, planned_start=start):
        state = "complete" if st.complete else ("DUE, missing " if st.is_due else "missing ") + st.describe_missing()
        signed = ", ".join(f"{role}: {who}" for role, who in st.signed) or "nobody yet"
        typer.echo(f"{st.name:<8} due {st.due_at.isoformat(timespec='minutes')}  {state}\n         signed: {signed}")
        missing_any = missing_any or (st.is_due and not st.complete)
    if missing_any:
        raise typer.Exit(4)


@app.command("go")
def go_(release: Annotated[str, typer.Argument()], who: Annotated[str, typer.Option("--as")],
        reason: Annotated[str, typer.Option("--reason")] = "", db: DbOption = DEFAULT_URL) -> None:
    """Record a GO decision (who, when, why, and the roles they hold in the plan)."""
    _go_decision(release, who, "go", reason, db)


@app.command("no-go")
def no_go(release: Annotated[str, typer.Argument()], who: Annotated[str, typer.Option("--as")],
          reason: Annotated[str, typer.Option("--reason")] = "", db: DbOption = DEFAULT_URL) -> None:
    """Record a NO-GO: a release not started is refused; a running one is rolled back."""
    _go_decision(release, who, "no-go", reason, db)


def _go_decision(release: str, who: str, choice: str, reason: str, db: str) -> None:

    store = _existing_store(db)
    found = store.require(name=release)
    held = sorted(r for r, people in found.state.get("roles", {}).items() if who in people)
    if not held:
        raise UsageError(f"{who} holds no role in {release}'s plan", hint="the go/no-go is decided by the plan's people")
    store.add_signoff(release_id=found.id, who=who, role=",".join(held), decision=choice, reason=reason)
    typer.echo(f"recorded: {choice.upper()} by {who} ({', '.join(held)}) for {release}")


@app.command()
def kill(release: Annotated[str, typer.Argument()], role: Annotated[str, typer.Option("--role")],
         who: Annotated[str, typer.Option("--as")], reason: Annotated[str, typer.Option("--reason")] = "",
         db: DbOption = DEFAULT_URL) -> None:
    """Pull the kill switch: every request to stable now, then the rollback steps."""
    from launchdeck.runbook import roles

    store = _existing_store(db)
    found = store.require(name=release)
    refused = roles.refusal({r: set(p) for r, p in found.state.get("roles", {}).items()}, who, role)
    if refused:
        raise UsageError(f"kill refused: {refused}")
    store.add_signoff(release_id=found.id, who=who, role=role, decision="kill", reason=reason)
    typer.echo(f"kill switch requested by {who} ({role}) for {release}")


