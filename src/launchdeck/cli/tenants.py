"""`launchdeck tenant apply FILE…` and `launchdeck tenant show`: tenant documents (people, guard rails)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from launchdeck.cli.common import _PLAIN, DEFAULT_URL, DbOption, Output, app
from launchdeck.cli.remote import ServerOption, TokenOption, own_tenant, remote

tenant_app = typer.Typer(no_args_is_help=True, help="Tenant documents: the tenant's people (kind: Tenant) and "
                                                    "guard rails (kind: TenantPolicy).", **_PLAIN)
app.add_typer(tenant_app, name="tenant")


@tenant_app.command("apply")
def apply(files: Annotated[list[Path], typer.Argument(help="Tenant documents (YAML), one per file.")],
          output: Annotated[Output, typer.Option("--output")] = Output.text, db: DbOption = DEFAULT_URL,
          server: ServerOption = None, token: TokenOption = None) -> None:
    """Check every document, then keep each as its tenant's newest version (all or none). Through a server,
    the token must be an admin of the documents' tenant."""
    from launchdeck.plan import limits

    texts = []
    for f in files:
        raw = limits.read_file(f, "tenant document")
        texts.append((raw.decode("utf-8", errors="replace"), str(f)))
    api = remote(server, token)
    if api is not None:
        rows = api.call("POST", "/tenant/documents", {"documents": [{"text": t, "file": f} for t, f in texts]})["items"]
    else:
        from launchdeck.controller.submit import local_person
        from launchdeck.services import tenants
        from launchdeck.store.repo import Store

        with Store(db) as store:
            rows = [_row(a.stored, a.new) for a in tenants.apply_documents(store, texts, by=local_person())]
    if output is Output.json:
        typer.echo(json.dumps(rows))
        return
    for r in rows:
        change = f"version {r['version']}" if r["changed"] else f"unchanged (version {r['version']})"
        typer.echo(f"tenant {r['tenant']}: {r['kind']} {change}, from {r['file']}")


@tenant_app.command("show")
def show(tenant: Annotated[Optional[str], typer.Option(
    "--tenant", help="Only this tenant's documents (with --server: the token's tenant, the only one it sees).")] = None,
         text: Annotated[bool, typer.Option("--text", help="Print each document's text too.")] = False,
         output: Annotated[Output, typer.Option("--output")] = Output.text, db: DbOption = DEFAULT_URL,
         server: ServerOption = None, token: TokenOption = None) -> None:
    """The newest version of each tenant document: tenant, kind, version, who applied it and when. Through a
    server: the token's tenant's documents (--tenant naming another tenant is refused)."""
    api = remote(server, token)
    if api is not None:
        answer = api.call("GET", "/tenant/documents")
        own_tenant(tenant, answer.get("tenant"), "documents")
        rows = answer["items"]
    else:
        from launchdeck.cli.common import _existing_store
        from launchdeck.services import tenants

        with _existing_store(db) as store:
            rows = [_row(d, None) | {"text": d.text} for d in tenants.documents(store, tenant=tenant)]
    if output is Output.json:
        typer.echo(json.dumps(rows))
        return
    if not rows:
        typer.echo("no tenant documents yet: `launchdeck tenant apply FILE` (kind: Tenant or TenantPolicy)")
        return
    from launchdeck.cli.inspect import _print_table, _short_time

    _print_table(("tenant", "kind", "version", "applied by", "applied", "from"),
                 [(r["tenant"], r["kind"], str(r["version"]), r["appliedBy"], _short_time(r["appliedAt"]), r["file"])
                  for r in rows])
    if text:
        for r in rows:
            typer.echo(f"\n# {r['tenant']} {r['kind']} version {r['version']}\n{r.get('text', '')}")


def _row(d: Any, new: bool | None) -> dict[str, Any]:
    row = {"tenant": d.tenant, "kind": d.kind, "version": d.version, "digest": d.digest, "file": d.file,
           "appliedBy": d.applied_by, "appliedAt": d.applied_at.isoformat()}
    return row if new is None else row | {"changed": new}
