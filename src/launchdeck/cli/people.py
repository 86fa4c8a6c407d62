"""Commands people use around a release: approve, checklist, go / no-go."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from launchdeck.cli.common import (
    DEFAULT_URL,
    Choice,
    DbOption,
    TenantOption,
    _existing_store,
    app,
)
from launchdeck.cli.remote import Remote, ServerOption, TokenOption, act, person, remote
from launchdeck.errors import UsageError


@app.command()
def approve(release: Annotated[str, typer.Argument(help="The release name (metadata.name).")],
            role: Annotated[str, typer.Option("--role", help="The role you sign for.")],
            who: Annotated[Optional[str], typer.Option("--as", help="Your name, as listed under roles (not with --server: the token's person).")] = None,
            stage: Annotated[Optional[int], typer.Option("--stage", min=1, help="Sign off leaving stage N.")] = None,
            checklist: Annotated[Optional[str], typer.Option("--checklist", help="Sign a checklist (e.g. T-1h).")] = None,
            decision: Annotated[Optional[Choice], typer.Option("--decision", help="Decide an open decision window or hold.")] = None,
            reason: Annotated[str, typer.Option("--reason")] = "",
            db: DbOption = DEFAULT_URL, server: ServerOption = None, token: TokenOption = None,
            tenant: TenantOption = None) -> None:
    """Sign off a stage or decide (continue / roll back) while a run waits."""
    from launchdeck.services import actions

    if sum(x is not None for x in (stage, decision, checklist)) != 1:
        raise UsageError("give exactly one of --stage N, --checklist NAME or --decision rollback|continue",
                         hint="e.g. launchdeck approve REL --role sre --as sam --stage 1")
    api = remote(server, token)
    name = person(who, api)
    if api is not None:
        act(api, release, "signoffs", {"role": role, "stage": stage, "checklist": checklist, "reason": reason,
                                       "decision": decision.value if decision else None})
        return
    store = _existing_store(db)
    found = store.require(name=release, tenant=tenant)
    done = actions.approve(store, found, who=name, role=role, stage=stage, checklist=checklist,
                           decision=decision.value if decision else None, reason=reason)
    typer.echo(done.message)


@app.command()
def checklist(release: Annotated[str, typer.Argument()], db: DbOption = DEFAULT_URL, tenant: TenantOption = None) -> None:
    """Each checklist: when it is due, who signed, who is still missing."""
    from datetime import datetime

    from launchdeck.controller import preflight
    from launchdeck.plan import load_plan

    store = _existing_store(db)
    found = store.require(name=release, tenant=tenant)
    loaded = load_plan(found.plan_path)
    spec = loaded.doc.spec  # type: ignore[union-attr]
    start = datetime.fromisoformat(found.state.get("plannedStart") or found.state["startedAt"])
    missing_any = False
    for st in preflight.checklist_status(spec, store.signoffs(release_id=found.id), planned_start=start):
        state = "complete" if st.complete else ("DUE, missing " if st.is_due else "missing ") + st.describe_missing()
        signed = ", ".join(f"{role}: {who}" for role, who in st.signed) or "nobody yet"
        typer.echo(f"{st.name:<8} due {st.due_at.isoformat(timespec='minutes')}  {state}\n         signed: {signed}")
        missing_any = missing_any or (st.is_due and not st.complete)
    if missing_any:
        raise typer.Exit(4)


@app.command("go")
def go_(release: Annotated[str, typer.Argument()], who: Annotated[Optional[str], typer.Option("--as")] = None,
        reason: Annotated[str, typer.Option("--reason")] = "", db: DbOption = DEFAULT_URL,
        server: ServerOption = None, token: TokenOption = None, tenant: TenantOption = None) -> None:
    """Record a GO decision (who, when, why, and the roles they hold in the plan)."""
    _go_decision(release, who, "go", reason, db, remote(server, token), tenant)


@app.command("no-go")
def no_go(release: Annotated[str, typer.Argument()], who: Annotated[Optional[str], typer.Option("--as")] = None,
          reason: Annotated[str, typer.Option("--reason")] = "", db: DbOption = DEFAULT_URL,
          server: ServerOption = None, token: TokenOption = None, tenant: TenantOption = None) -> None:
    """Record a NO-GO: a release not started is refused; a running one is rolled back."""
    _go_decision(release, who, "no-go", reason, db, remote(server, token), tenant)


def _go_decision(release: str, who: str | None, choice: str, reason: str, db: str, api: Remote | None,
                 tenant: str | None) -> None:
    from launchdeck.services import actions

    name = person(who, api)
    if api is not None:
        act(api, release, choice, {"reason": reason})
        return
    store = _existing_store(db)
    found = store.require(name=release, tenant=tenant)
    typer.echo(actions.go_decision(store, found, who=name, choice=choice, reason=reason).message)
