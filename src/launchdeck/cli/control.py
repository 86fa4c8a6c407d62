"""Controlling a release, with the verbs people know from `kubectl argo rollouts`: kill, pause, resume, retry.

Each one is a recorded, role-checked request that the run driving the release acts on at its next
tick. `kill` with no run alive acts on the plan's router itself; `retry` starts a new run of a
finished release's plan, linked to the old one.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from launchdeck.cli.common import DEFAULT_URL, DbOption, Output, TenantOption, _existing_store, _run_workdir, app
from launchdeck.cli.remote import ServerOption, TokenOption, act, person, remote
from launchdeck.errors import UsageError

RoleOption = Annotated[str, typer.Option("--role", help="The role you act for.")]
WhoOption = Annotated[Optional[str], typer.Option("--as", help="Your name, as listed under roles (not with --server: the token's person).")]
ReasonOption = Annotated[str, typer.Option("--reason", help="Why (kept in the decision log and the evidence).")]


@app.command()
def kill(release: Annotated[str, typer.Argument()], role: RoleOption, who: WhoOption = None, reason: ReasonOption = "",
         db: DbOption = DEFAULT_URL, server: ServerOption = None, token: TokenOption = None,
         tenant: TenantOption = None) -> None:
    """Pull the kill switch: every request to stable now, then the rollback steps (even with no run alive)."""
    from launchdeck.services import actions

    api = remote(server, token)
    name = person(who, api)
    if api is not None:  # whatever drives the release applies it; with none, the next worker to claim it does
        act(api, release, "kill", {"role": role, "reason": reason})
        return
    store = _existing_store(db)
    found = store.require(name=release, tenant=tenant)
    done = actions.request_kill(store, found, who=name, role=role, reason=reason)
    if done.driven:
        typer.echo(done.message)
        return
    failed, message = _kill_without_driver(found, db)
    typer.echo(message)
    raise typer.Exit(1 if failed else 0)


def _kill_without_driver(found: Any, db: str) -> tuple[bool, str]:
    """(failed, message); failed when something had to move and could not."""
    import asyncio

    from launchdeck.controller.intervene import kill_undriven
    from launchdeck.controller.runner import RunOptions
    from launchdeck.controller.view import PlainView
    from launchdeck.plan import load_plan

    plan_file = Path(found.plan_path)
    rerun = f"launchdeck run {plan_file}"
    if not plan_file.is_file():
        return True, (f"nothing moved: no run drives {found.name} and its plan {plan_file} is not here, so its router "
                      f"is unknown. The kill is recorded: `{rerun}` (from where it ran) rolls back at once.")
    loaded = load_plan(plan_file)
    if loaded.digest != found.plan_digest:
        return True, (f"nothing moved: {plan_file} changed since {found.name} started, so its router cannot be "
                      "trusted from it. The kill is recorded; restore the plan it started with and run it.")
    opts = RunOptions(db_url=db, workdir=_run_workdir(found), time_scale=float(found.state.get("timeScale", 1.0)))
    result = asyncio.run(kill_undriven(loaded, opts, PlainView(sys.stderr), plan_file=plan_file, tenant=found.tenant))
    return result.failed, result.message


@app.command()
def pause(release: Annotated[str, typer.Argument()], role: RoleOption, who: WhoOption = None,
          reason: ReasonOption = "", db: DbOption = DEFAULT_URL, server: ServerOption = None,
          token: TokenOption = None, tenant: TenantOption = None) -> None:
    """Keep the canary at its weight, with no time limit, until `resume` (gates are still judged)."""
    from launchdeck.services import actions

    api = remote(server, token)
    name = person(who, api)
    if api is not None:
        act(api, release, "pause", {"role": role, "reason": reason})
        return
    store = _existing_store(db)
    typer.echo(actions.pause(store, store.require(name=release, tenant=tenant), who=name, role=role, reason=reason).message)


@app.command()
def resume(release: Annotated[str, typer.Argument()], role: RoleOption, who: WhoOption = None,
           reason: ReasonOption = "", db: DbOption = DEFAULT_URL, server: ServerOption = None,
           token: TokenOption = None, tenant: TenantOption = None) -> None:
    """Resume a paused release, or continue a held one (as `approve --decision continue`)."""
    from launchdeck.services import actions

    api = remote(server, token)
    name = person(who, api)
    if api is not None:
        act(api, release, "resume", {"role": role, "reason": reason})
        return
    store = _existing_store(db)
    typer.echo(actions.resume(store, store.require(name=release, tenant=tenant), who=name, role=role, reason=reason).message)


@app.command()
def retry(release: Annotated[str, typer.Argument()],
          time_scale: Annotated[float, typer.Option("--time-scale", min=0.001, help="Make plan time N times faster.")] = 1.0,
          output: Annotated[Output, typer.Option("--output")] = Output.text,
          seed: Annotated[Optional[int], typer.Option("--seed")] = None,
          db: DbOption = DEFAULT_URL, tenant: TenantOption = None) -> None:
    """Run a finished release's plan again as a new run, linked to the old one (kept as NAME#ID)."""
    from launchdeck.cli.running import _run_and_report
    from launchdeck.controller.runner import RunOptions
    from launchdeck.plan import load_plan

    found = _existing_store(db).require(name=release, tenant=tenant)
    if not found.outcome:
        raise UsageError(f"release {release} has not finished ({found.state['engine']['phase']}); there is nothing "
                         "to retry", hint=f"resume it with `launchdeck run {found.plan_path}`")
    loaded = load_plan(Path(found.plan_path))
    if loaded.digest != found.plan_digest:
        print(f"launchdeck: {found.plan_path} changed since run {found.id}; the retry runs the plan as it is now",
              file=sys.stderr)
    opts = RunOptions(time_scale=time_scale, db_url=db, workdir=_run_workdir(found), fresh=True, seed=seed)
    _run_and_report(loaded, opts, output)
