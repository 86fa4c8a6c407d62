"""`launchdeck plans register FILE` and `launchdeck plans list`: the tenant's registered plans, the ones chat's
`/approve canary` and `POST /api/v1/releases` with ``plan`` start from. Through a server the token's tenant (an
admin registers); locally the plan's ``metadata.tenant``, with the same ``services.plans`` functions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from launchdeck.cli.common import _PLAIN, DEFAULT_URL, DbOption, Output, app
from launchdeck.cli.remote import ServerOption, TokenOption, own_tenant, remote

plans_app = typer.Typer(no_args_is_help=True, help="Registered plans: what chat and the API start releases from.",
                        **_PLAIN)
app.add_typer(plans_app, name="plans")

OutputOption = Annotated[Output, typer.Option("--output", help="json: machine-readable output on stdout.")]


@plans_app.command("register")
def register(file: Annotated[Path, typer.Argument(help="Plan file (YAML).")], output: OutputOption = Output.text,
             db: DbOption = DEFAULT_URL, server: ServerOption = None, token: TokenOption = None) -> None:
    """Validate the plan and keep it as its tenant's newest version of that plan (unchanged when the same text
    is registered already). Through a server, the token must be an admin of its tenant."""
    from launchdeck.plan import limits

    text = limits.read_file(file, "plan").decode("utf-8", errors="replace")
    api = remote(server, token)
    if api is not None:
        row = api.call("POST", "/plans", {"plan": text})
        warnings: list[str] = []
    else:
        from launchdeck.controller.submit import local_person
        from launchdeck.plan import load_plan_text
        from launchdeck.services import plans
        from launchdeck.store.repo import Store

        tenant = load_plan_text(text, source=file.name).doc.metadata.tenant
        with Store(db) as store:
            kept, checked, new = plans.register(store, text, tenant=tenant, by=local_person())
        row = _row(kept, checked.kind) | {"changed": new}
        warnings = checked.warnings
    if output is Output.json:
        typer.echo(json.dumps(row))
        return
    for w in warnings:
        typer.echo(f"warning: {w}", err=True)
    said = f"version {row['version']}" if row.get("changed", True) else f"unchanged (version {row['version']})"
    typer.echo(f"plan {row['name']} ({row['kind']}) of tenant {row['tenant']}: {said}, from {file}")


@plans_app.command("list")
def list_(tenant: Annotated[str | None, typer.Option(
              "--tenant", help="Only this tenant's plans (locally: every tenant's by default). With --server: the token's tenant, "
                               "the only one it sees.")] = None,
          output: OutputOption = Output.text, db: DbOption = DEFAULT_URL, server: ServerOption = None,
          token: TokenOption = None) -> None:
    """The newest version of each of the tenant's registered plans: name, kind, version, who registered it."""
    api = remote(server, token)
    if api is not None:
        answer = api.call("GET", "/plans")
        own_tenant(tenant, answer.get("tenant"), "plans")
        rows = answer["items"]
    else:
        from launchdeck.cli.common import _existing_store
        from launchdeck.services import plans

        with _existing_store(db) as store:
            rows = [_row(p, plans.kind_of(p.text)) for p in _stored(store, tenant)]
    if output is Output.json:
        typer.echo(json.dumps(rows))
        return
    if not rows:
        typer.echo(f"no registered plans{f' of tenant {tenant}' if tenant else ''} yet: "
                   "`launchdeck plans register FILE`")
        return
    from launchdeck.cli.inspect import _print_table, _short_time

    _print_table(("plan", "kind", "tenant", "version", "registered by", "registered"),
                 [(r["name"], r["kind"], r["tenant"], str(r["version"]), r["registeredBy"],
                   _short_time(r["registeredAt"])) for r in rows])


def _stored(store: Any, tenant: str | None) -> list[Any]:
    from launchdeck.store import plans as stored

    return stored.plans(store, tenant=tenant)


def _row(p: Any, kind: str) -> dict[str, Any]:
    """A registered plan as the API's ``PlanOut`` writes it."""
    return {"name": p.name, "tenant": p.tenant, "digest": p.digest, "kind": kind, "version": p.version,
            "registeredBy": p.registered_by, "registeredAt": p.registered_at.isoformat()}
