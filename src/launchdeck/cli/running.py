"""Commands that read a plan: validate, schema, run, demo, prepare."""

from __future__ import annotations

import json
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from launchdeck.cli import quick
from launchdeck.cli.common import (DEFAULT_URL, Baseline, DbOption, Output, Scenario, Stack, app,
                                   exit_code, _parse_start)
from launchdeck.cli.remote import ServerOption, TokenOption, remote


@app.command()
def validate(plan: Annotated[Path, typer.Argument(help="Plan file (YAML).")],
             time_scale: Annotated[float, typer.Option("--time-scale", min=0.001, help="Check the windows as `run --time-scale N` would fill them.")] = 1.0,
             db: Annotated[str | None, typer.Option("--db", help="Also check the plan against its tenant's guard rails (TenantPolicy) kept in this store.")] = None) -> None:
    """Check a plan; report every problem at once with file:line and what to write instead."""
    rails = None
    if db is not None:
        from launchdeck.plan import load_plan
        from launchdeck.services import guardrails
        from launchdeck.store.repo import Store

        loaded = load_plan(plan)
        with Store(db) as store:
            rails = guardrails.require_within(store, loaded, loaded.doc.metadata.tenant)
    quick.validate(plan, time_scale)
    if rails is not None:
        typer.echo(f"{plan}: within tenant {rails.tenant}'s guard rails (policy v{rails.version})")


class SchemaKind(str, Enum):
    plan = "plan"
    tenant = "tenant"


@app.command()
def schema(kind: Annotated[SchemaKind, typer.Argument(help="plan: Release and ReleaseTrain files; tenant: Tenant and "
                                                            "TenantPolicy documents.")] = SchemaKind.plan) -> None:
    """Print the JSON Schema of plan files, or of tenant documents (for editors)."""
    if kind is SchemaKind.tenant:
        from launchdeck.tenants.documents import json_schema as tenant_schema

        typer.echo(json.dumps(tenant_schema(), indent=2))
        return
    from launchdeck.plan import json_schema

    typer.echo(json.dumps(json_schema(), indent=2))


@app.command()
def run(plan: Annotated[Path, typer.Argument(help="Plan file (YAML).")],
        time_scale: Annotated[float, typer.Option("--time-scale", min=0.001, help="Make plan time N times faster.")] = 1.0,
        output: Annotated[Output, typer.Option("--output", help="json: print the summary object last on stdout.")] = Output.text,
        approvals: Annotated[Optional[Path], typer.Option("--approvals", help="Sign-offs recorded ahead (YAML list).")] = None,
        db: DbOption = DEFAULT_URL,
        fresh: Annotated[bool, typer.Option("--fresh", help="Start over even if an unfinished run exists.")] = False,
        seed: Annotated[Optional[int], typer.Option("--seed", help="Seed the local fleet's randomness.")] = None,
        start_at: Annotated[Optional[str], typer.Option("--start-at", help="Planned start (ISO 8601); checklists are due relative to it.")] = None,
        follow: Annotated[bool, typer.Option("--follow", help="Stay on after promotion through the post-launch checkpoints.")] = False,
        wait: Annotated[bool, typer.Option("--wait", help="If another process drives the release, wait for it to finish or stop.")] = False,
        detach: Annotated[bool, typer.Option("--detach", help="Submit the release and return; a worker drives it.")] = False,
        server: ServerOption = None, token: TokenOption = None) -> None:
    """Run (or resume) a release to its outcome."""
    from launchdeck.errors import UsageError
    from launchdeck.controller import people, preflight
    from launchdeck.controller.runner import RunOptions
    from launchdeck.plan import load_plan
    from launchdeck.store.repo import location

    loaded = load_plan(plan)
    # The plan's relative paths (evidence, key, file channels, commands) are read from its own folder.
    opts = RunOptions(time_scale=time_scale, db_url=db, workdir=plan.parent, approvals=approvals, fresh=fresh,
                      seed=seed, start_at=_parse_start(start_at), follow=follow)
    # Refused here, before any release of the plan (or service of a train) is recorded or started.
    if approvals is not None:
        people.check_approvals_file(approvals, loaded)
    specs = [s for _, s in loaded.services] if loaded.is_train else [loaded.doc.spec]
    preflight.require_writable(*specs, workdir=opts.workdir)
    api = remote(server, token)
    if api is not None:
        if not detach:
            raise UsageError("with --server a release is driven by the server's workers: add --detach",
                             hint=f"launchdeck run {plan} --detach --server {server}")
        _submit_to_server(api, loaded, opts, output)
        return
    typer.echo(f"release store: {location(db)}", err=output is Output.json)
    if detach:
        _submit_detached(loaded, opts, output)
        return
    _run_and_report(loaded, opts, output, wait=wait)


def _submit_to_server(api: Any, loaded: Any, opts: Any, output: Output) -> None:
    from launchdeck.controller.people import load_approvals_file
    from launchdeck.errors import UsageError

    if loaded.is_train or loaded.text is None:
        raise UsageError("the server takes release plans; a release train is driven by its own `launchdeck run`")
    approvals = (load_approvals_file(opts.approvals, loaded.doc.spec, loaded.doc.metadata.service)
                 if opts.approvals else [])
    started = api.call("POST", "/releases", {
        "planText": loaded.text, "timeScale": opts.time_scale, "seed": opts.seed,
        "startAt": opts.start_at.isoformat() if opts.start_at else None,
        "approvals": [{k: v for k, v in a.items() if v is not None} for a in approvals]})
    if output is Output.json:
        typer.echo(json.dumps(started))
        return
    typer.echo(f"submitted {started['name']} to {api.url} (by {started['submittedBy']}): {started['url']}\n"
               f"follow it: launchdeck status {started['name']} --watch --server {api.url}")


def _submit_detached(loaded: Any, opts: Any, output: Output) -> None:
    from launchdeck.controller.submit import submit
    from launchdeck.controller.view import PlainView
    from launchdeck.errors import UsageError
    from launchdeck.store.repo import Store

    if loaded.is_train:
        raise UsageError("a release train is driven by its own `launchdeck run`; --detach takes a release plan")
    with Store(opts.db_url) as store:
        release = submit(store, loaded, opts, PlainView(sys.stderr))
    if output is Output.json:
        typer.echo(json.dumps({"release": release.name, "id": release.id, "tenant": release.tenant,
                               "submittedBy": release.submitted_by, "outcome": release.outcome}))
        return
    if release.outcome:
        typer.echo(f"{release.name} already finished ({release.outcome}); `launchdeck status {release.name}`")
        return
    typer.echo(f"submitted {release.name}: a worker on this store drives it (`launchdeck worker --db {opts.db_url}`); "
               f"follow it with `launchdeck status {release.name} --watch`")


@app.command()
def demo(scenario: Annotated[Scenario, typer.Option("--scenario", help="bad: errors 2 minutes in; good: healthy.")] = Scenario.bad,
         output: Annotated[Output, typer.Option("--output")] = Output.text,
         time_scale: Annotated[float, typer.Option("--time-scale", min=1.0)] = 90.0,
         workdir: Annotated[Path, typer.Option("--dir", help="Where the demo writes its files.")] = Path("launchdeck-demo"),
         stack: Annotated[Optional[Stack], typer.Option("--stack", help="Run behind a real HAProxy or nginx, judged from Prometheus.")] = None,
         baseline: Annotated[Baseline, typer.Option("--baseline", help="With --stack: same-age also starts a fresh copy of stable as the router's third server and judges the canary against it (analysis.baseline).")] = Baseline.stable) -> None:
    """Run the IntelGraph canary on the embedded local fleet (about a minute), or a canary behind a real stack."""
    from launchdeck.controller.runner import RunOptions
    from launchdeck.demo import demo_plan, demonstrated
    from launchdeck.errors import UsageError

    if baseline is Baseline.same_age and stack is None:
        raise UsageError("--baseline same-age needs --stack haproxy|nginx: the local demo's plan compares with the "
                         "warm fleet; for a same-age baseline on the local fleet run examples/same-age-baseline.yaml")
    workdir.mkdir(parents=True, exist_ok=True)
    opts = RunOptions(time_scale=time_scale if stack is None else min(time_scale, 30.0),
                      db_url=f"sqlite:///{workdir / 'launchdeck.db'}", workdir=workdir, fresh=True)
    if stack is None:
        summary = _run_and_report(demo_plan(scenario.value, workdir), opts, output, exit_at_end=False)
    else:
        summary = _run_stack_demo(stack.value, scenario.value, opts, output, baseline.value)
    log = workdir / "notifications.jsonl"
    where = f"evidence: {summary['evidence']}\nmessages: {log}\nverify:   launchdeck evidence verify {summary['evidence']}"
    typer.echo(where, err=output is Output.json)
    # The demo succeeds when it shows what it set out to: the bad canary rolled back, the good one promoted.
    verdict, as_designed = demonstrated(scenario.value, summary["outcome"])
    typer.echo(verdict, err=output is Output.json or not as_designed)
    code = 0 if as_designed else (exit_code(summary) or 1)
    if output is Output.json:
        typer.echo(json.dumps(summary))
    raise typer.Exit(code)


def _run_stack_demo(kind: str, scenario: str, opts: Any, output: Output, baseline: str = "stable") -> dict[str, Any]:
    import asyncio

    from launchdeck.controller.view import PlainView
    from launchdeck.demo.stack import check_programs, run_stack_demo

    check_programs(kind)
    stream = sys.stderr if output is Output.json else sys.stdout
    summary = asyncio.run(run_stack_demo(kind, scenario, opts, PlainView(stream), baseline))
    if output is Output.text:
        typer.echo(f"\n{summary['release']}: {summary['outcome']} at canary weight {summary['finalWeight']:g}% — "
                   f"{summary['reason']}")
    return summary


def _run_and_report(loaded: Any, opts: Any, output: Output, exit_at_end: bool = True,
                    wait: bool = False) -> dict[str, Any]:
    import asyncio

    from launchdeck.controller.runner import run_release
    from launchdeck.controller.train import run_train
    from launchdeck.controller.view import LiveView, PlainView

    stream = sys.stderr if output is Output.json else sys.stdout
    view: Any = None
    try:
        if loaded.is_train:
            summary = asyncio.run(run_train(loaded, opts, lambda name: PlainView(stream, every=10.0, prefix=f"[{name}]")))
        else:
            view = LiveView(stream) if stream.isatty() else PlainView(stream)
            summary = asyncio.run(run_release(loaded, opts, view, wait=wait))
    except KeyboardInterrupt:
        if isinstance(view, LiveView):
            view.close()
            view = None
        print(_where_it_stands(loaded, opts), file=sys.stderr)
        raise typer.Exit(130) from None
    finally:
        if isinstance(view, LiveView):
            view.close()
    if output is Output.json and exit_at_end:
        typer.echo(json.dumps(summary))
    elif output is Output.text and "services" in summary:
        typer.echo(f"\n{summary['release']}: {summary['outcome']} — {summary['reason']}")
        for s in summary["services"]:
            typer.echo(f"  {s['name']:<20} {s['outcome']:<12} {s['startedAt'] or '-':<26} {s['finishedAt'] or '-'}")
    elif output is Output.text:
        from launchdeck.core.durations import in_text

        typer.echo(f"\n{summary['release']}: {summary['outcome']} at canary weight {summary['finalWeight']:g}% — "
                   f"{in_text(summary['reason'])}")
        if exit_at_end:  # the demo says where its evidence is itself, with the messages
            typer.echo(f"evidence: {summary['evidence']}")
    if exit_at_end:
        raise typer.Exit(exit_code(summary))
    return summary


def _where_it_stands(loaded: Any, opts: Any) -> str:
    """After Ctrl-C: where the release stands, and the commands to go on or roll back."""
    from launchdeck.controller.intervene import embedded_router
    from launchdeck.store.repo import Store

    plan = loaded.path
    if loaded.is_train:
        return f"launchdeck: interrupted; run `launchdeck run {plan}` again to resume the train"
    with Store(opts.db_url) as store:
        found = store.find(name=loaded.name, tenant=loaded.doc.metadata.tenant)
    if found is None or found.outcome:
        return f"launchdeck: interrupted; `launchdeck run {plan}` runs it again"
    e = found.state["engine"]
    stages = len(loaded.doc.spec.stages)
    router = loaded.doc.spec.target.router
    traffic = ("the embedded fleet stopped with this process: no user reaches the canary now"
               if embedded_router(loaded.doc.spec) else f"the {router.type} router keeps the canary at {e['weight']:g}%")
    role = next(iter(found.state.get("roles", {})), "ROLE")
    return (f"launchdeck: interrupted: {found.name} stands at stage {e['stage'] + 1}/{stages}, canary weight "
            f"{e['weight']:g}% ({e['phase']}); {traffic}.\n"
            f"  resume:    launchdeck run {plan}   (the same command; it carries on from plan time "
            f"{found.plan_clock:.0f}s)\n"
            f"  roll back: launchdeck kill {found.name} --role {role} --as NAME")


@app.command()
def prepare(plan: Annotated[Path, typer.Argument(help="Plan file (YAML).")],
            start_at: Annotated[Optional[str], typer.Option("--start-at", help="Planned start (ISO 8601).")] = None,
            db: DbOption = DEFAULT_URL) -> None:
    """Register a release before its run, so checklists and go/no-go can be signed ahead."""
    from launchdeck.controller.runner import RunOptions
    from launchdeck.controller.submit import prepare
    from launchdeck.plan import load_plan

    loaded = load_plan(plan)
    release = prepare(loaded, RunOptions(db_url=db, start_at=_parse_start(start_at)))
    typer.echo(f"prepared {release.name}; sign checklists with `launchdeck approve {release.name} --checklist NAME "
               f"--role R --as NAME`, see what is missing with `launchdeck checklist {release.name}`")


