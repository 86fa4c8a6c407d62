"""Guard rails per tenant, for operators: `budget status|protect|record`, `autonomy status|override|restore`,
`safety check`. A table, or `--output json`; through a server with `--server` (the token's tenant: the server
refuses a `--tenant` naming another, and `--all-tenants` is refused here), or on the local store. The objects come from ``services.operators``, the same the API returns."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from launchdeck.cli.common import _PLAIN, DEFAULT_URL, DbOption, Output, app
from launchdeck.cli.remote import Remote, ServerOption, TokenOption, remote

budget_app = typer.Typer(no_args_is_help=True, help="A tenant's budget guard: spend, alerts, enforcement.", **_PLAIN)
autonomy_app = typer.Typer(no_args_is_help=True, help="A tenant's autonomy tier and emergency override.", **_PLAIN)
safety_app = typer.Typer(no_args_is_help=True, help="Autonomous tenants' safety figures and isolation.", **_PLAIN)
app.add_typer(budget_app, name="budget")
app.add_typer(autonomy_app, name="autonomy")
app.add_typer(safety_app, name="safety")

TenantOption = Annotated[str | None, typer.Option("--tenant", help="The tenant (with --server: the token's).")]
OutputOption = Annotated[Output, typer.Option("--output", help="json: print the objects as JSON.")]


def _local(db: str, call: Any, *, write: bool = False) -> Any:
    from launchdeck.store.repo import Store

    if write:
        with Store(db) as store:
            return call(store)
    from launchdeck.cli.common import _existing_store

    with _existing_store(db) as store:
        return call(store)


def _me() -> str:
    from launchdeck.controller.submit import local_person

    return local_person()


def _query(api: Remote, path: str, **params: object) -> Any:
    from urllib.parse import urlencode

    given = {k: v for k, v in params.items() if v not in (None, False)}
    return api.call("GET", path + (f"?{urlencode(given)}" if given else ""))


def _through(server: str | None, token: str | None, all_tenants: bool = False,
             flag: str = "--all-tenants") -> Remote | None:
    api = remote(server, token)
    if api is not None and all_tenants:
        from launchdeck.errors import UsageError

        raise UsageError(f"{flag} through --server: an API token sees only its own tenant",
                         hint=f"leave out {flag} (you get the token's tenant), or run it on the store with --db")
    return api


def _emit(rows: Any, output: Output, table: Any) -> None:
    if output is Output.json:
        typer.echo(json.dumps(rows))
    else:
        table(rows)


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x * 100:.2f}%"


@budget_app.command("status")
def budget_status(tenant: TenantOption = None,
                  all_tenants: Annotated[bool, typer.Option("--all-tenants", help="Every tenant of the store.")] = False,
                  output: OutputOption = Output.text, db: DbOption = DEFAULT_URL, server: ServerOption = None,
                  token: TokenOption = None) -> None:
    """Spend against the monthly budget, the 72 h forecast, this month's alerts and the enforced action."""
    from launchdeck.services import operators

    api = _through(server, token, all_tenants)
    rows = _query(api, "/budget/status", tenant=tenant)["items"] if api else _local(
        db, lambda s: operators.budget_status(s, tenant=tenant, all_tenants=all_tenants), write=True)
    _emit(rows, output, _budget_table)


def _budget_table(rows: list[dict[str, Any]]) -> None:
    from launchdeck.cli.inspect import _print_table

    table = []
    for r in rows:
        fc = r.get("forecast") or {}
        enf = r.get("enforcement") or {}
        table.append((r["tenant"], f"v{r['policyVersion']}" if r["policyVersion"] else "-",
                      f"{r['spent']:,.2f}/{r['budget']:,.0f} {r['currency']}" if r["budget"] else "no budget",
                      _pct(r["ratio"]),
                      f"{fc['upper']:,.0f} (out in {fc['exhaustionHours']:g} h)" if fc.get("exhaustionHours")
                      else (f"{fc['upper']:,.0f}" if fc else "-"),
                      ", ".join(f"{a['key'].split(':')[2] if a['kind'].startswith('budget') else a['kind']}"
                                f"{'*' if a['page'] else ''}" for a in r["alerts"]) or "-",
                      (enf.get("action", "none") + (" (waits for approval)" if enf.get("pending") else ""))))
    _print_table(("tenant", "policy", "spent", "share", "72h upper", "alerts (* paged)", "enforced"), table)
    for r in rows:
        if r.get("note"):
            typer.echo(f"{r['tenant']}: {r['note']}")
        for a in r["raised"]:
            typer.echo(f"{'PAGE' if a['page'] else 'alert'} {r['tenant']}: {a['reason']}")
        _undelivered(r["tenant"], r["alerts"])
        for b in r["burn"]:
            if "error" in b:
                typer.echo(f"{r['tenant']} {b['service']}: {b['error']}")
            else:
                typer.echo(f"{r['tenant']} {b['service']}: error budget {b['remaining']:.1%} left; burn "
                           + ", ".join(f"{k} {v:g}x" for k, v in b["rates"].items()))


@budget_app.command("protect")
def budget_protect(tenant: TenantOption = None,
                   lift: Annotated[bool, typer.Option("--lift", help="End the protection: releases go on.")] = False,
                   output: OutputOption = Output.text, db: DbOption = DEFAULT_URL, server: ServerOption = None,
                   token: TokenOption = None) -> None:
    """Take the policy's enforcement now (pause or shrink the tenant's releases, or run its hook), approving
    one that waits; admin."""
    from launchdeck.services import operators

    api = remote(server, token)
    if api:
        row = api.call("POST", "/budget/protect", {"lift": lift, "tenant": tenant})
    else:
        row = _local(db, lambda s: operators.budget_protect(s, tenant=_need(tenant), who=_me(), lift=lift), write=True)
    _emit(row, output, lambda r: typer.echo(
        f"tenant {r['tenant']}: " + ("budget protection lifted; releases go on" if lift else
                                     f"{r['enforcement']['action']} in force — {r['enforcement']['reason']}")))


@budget_app.command("record")
def budget_record(file: Annotated[Path, typer.Argument(help="Spend records: CSV `at,amount` or JSON.")],
                  tenant: TenantOption = None, output: OutputOption = Output.text, db: DbOption = DEFAULT_URL,
                  server: ServerOption = None, token: TokenOption = None) -> None:
    """Keep spend records for the tenant and check its budget at once; admin."""
    from launchdeck.plan import limits
    from launchdeck.services import operators

    text = limits.read_file(file, "spend records").decode("utf-8", errors="replace")
    api = remote(server, token)
    if api:
        row = api.call("POST", "/budget/spend", {"text": text, "source": file.name, "tenant": tenant})
    else:
        row = _local(db, lambda s: operators.budget_record(s, tenant=_need(tenant), text=text, source=file.name,
                                                           who=_me()), write=True)
    if output is Output.json:
        typer.echo(json.dumps(row))
        return
    typer.echo(f"{row['recorded']} spend records kept")
    _budget_table([row["status"]])


@autonomy_app.command("status")
def autonomy_status(tenant: TenantOption = None,
                    all_tenants: Annotated[bool, typer.Option("--all-tenants")] = False,
                    output: OutputOption = Output.text, db: DbOption = DEFAULT_URL, server: ServerOption = None,
                    token: TokenOption = None) -> None:
    """Each tenant's tier (and why it differs from its policy's), override and enforced hold."""
    from launchdeck.services import operators

    api = _through(server, token, all_tenants)
    rows = _query(api, "/autonomy/status", tenant=tenant)["items"] if api else _local(
        db, lambda s: operators.autonomy_status(s, tenant=tenant, all_tenants=all_tenants or tenant is None))
    _emit(rows, output, _autonomy_table)


def _none_yet(rows: list[dict[str, Any]], what: str) -> bool:
    if not rows:
        typer.echo(f"no {what}: apply a TenantPolicy with `launchdeck tenant apply FILE`")
    return not rows


def _autonomy_table(rows: list[dict[str, Any]]) -> None:
    from launchdeck.cli.inspect import _print_table

    if _none_yet(rows, "tenant with a TenantPolicy"):
        return

    _print_table(("tenant", "policy", "tier", "override until", "holds releases"),
                 [(r["tenant"], f"v{r['policyVersion']}" if r["policyVersion"] else "-",
                   f"{r['tier']}" + (f" (policy {r['policyTier']}: {r['tierReason']})"
                                     if r["policyTier"] and r["tier"] != r["policyTier"] else ""),
                   r["overrideUntil"] or "-", r["hold"] or "no") for r in rows])


@autonomy_app.command("override")
def autonomy_override(tenant: TenantOption = None,
                      duration: Annotated[str, typer.Option("--duration", help="How long: 30m, 1h… (off: end it).")] = "1h",
                      reason: Annotated[str, typer.Option("--reason")] = "",
                      output: OutputOption = Output.text, db: DbOption = DEFAULT_URL, server: ServerOption = None,
                      token: TokenOption = None) -> None:
    """Hold every autonomous action of the tenant for a duration (releases hold; people can still act); admin."""
    from launchdeck.services import operators

    api = remote(server, token)
    if api:
        row = api.call("POST", "/autonomy/override", {"duration": duration, "reason": reason, "tenant": tenant})
    else:
        row = _local(db, lambda s: operators.autonomy_override(s, tenant=_need(tenant), duration=duration, who=_me(),
                                                               reason=reason), write=True)
    _emit(row, output, lambda r: typer.echo(
        f"tenant {r['tenant']}: " + (f"every autonomous action held until {r['overrideUntil']}; people can still act"
                                     if r["overrideUntil"] else "override ended")))


@autonomy_app.command("restore")
def autonomy_restore(tenant: TenantOption = None,
                     tier: Annotated[int | None, typer.Option("--tier", min=1, max=3,
                                                              help="Cap at this tier (default: the policy's).")] = None,
                     reason: Annotated[str, typer.Option("--reason", help="Why (kept in the guard history).")] = "",
                     output: OutputOption = Output.text, db: DbOption = DEFAULT_URL, server: ServerOption = None,
                     token: TokenOption = None) -> None:
    """Undo a tier dropped on a safety breach: back to the policy's tier (or --tier N); admin, audited. The
    next safety check drops it again if the figures still breach."""
    from launchdeck.services import operators

    api = remote(server, token)
    if api:
        row = api.call("POST", "/autonomy/restore", {"tier": tier, "reason": reason, "tenant": tenant})
    else:
        row = _local(db, lambda s: operators.autonomy_restore(s, tenant=_need(tenant), who=_me(), reason=reason,
                                                              tier=tier), write=True)
    _emit(row, output, lambda r: typer.echo(
        f"tenant {r['tenant']}: tier {r['tier']} in force (policy {r['policyTier']})"
        + (f" — {r['tierReason']}" if r["tierReason"] else "")))


@safety_app.command("check")
def safety_check(tenant: TenantOption = None,
                 all_autonomous: Annotated[bool, typer.Option("--all-autonomous-tenants",
                                                              help="Every tenant whose policy is tier 2 or 3.")] = False,
                 output: OutputOption = Output.text, db: DbOption = DEFAULT_URL, server: ServerOption = None,
                 token: TokenOption = None) -> None:
    """Per tenant: tier, success, compensation and escalations over 24 h and 30 d against the targets (a breach
    drops one tier), and the isolation check. Exits 1 when a tenant breaches or is not isolated."""
    from launchdeck.services import operators

    api = _through(server, token, all_autonomous, "--all-autonomous-tenants")
    rows = _query(api, "/safety/check", tenant=tenant)["items"] if api else _local(
        db, lambda s: operators.safety_check(s, tenant=tenant, all_autonomous=all_autonomous), write=True)
    _emit(rows, output, _safety_table)
    if any(r["dropped"] or not r["isolation"]["ok"] or any(f["breaches"] for f in r["safety"]) for r in rows):
        raise typer.Exit(1)


def _safety_table(rows: list[dict[str, Any]]) -> None:
    from launchdeck.cli.inspect import _print_table

    if _none_yet(rows, "autonomous tenant (a TenantPolicy with autonomy tier 2 or 3)"):
        return

    table = []
    for r in rows:
        day, month = (r["safety"] + [{}, {}])[:2] if r["safety"] else ({}, {})
        table.append((r["tenant"], str(r["tier"]), _pct(day.get("successRate")), _pct(day.get("compensationRate")),
                      str(day.get("escalations", "-")), _pct(month.get("successRate")),
                      _pct(month.get("compensationRate")), "ok" if r["isolation"]["ok"] else "CROSSED"))
    _print_table(("tenant", "tier", "success 24h", "comp. 24h", "esc. 24h", "success 30d", "comp. 30d", "isolation"),
                 table)
    for r in rows:
        if r["dropped"]:
            typer.echo(f"tenant {r['tenant']} dropped a tier: {r['dropped']}")
        for f in r["safety"]:
            for b in f["breaches"]:
                typer.echo(f"tenant {r['tenant']}: {b}")
        for p in r["isolation"]["problems"]:
            typer.echo(f"tenant {r['tenant']}: isolation: {p}")
        _undelivered(r["tenant"], r.get("alerts", []))


def _undelivered(tenant: str, alerts: list[dict[str, Any]]) -> None:
    """One line per alert delivery not (yet) made: pending, with its next attempt, or given up."""
    for a in alerts:
        for d in a.get("deliveries", []):
            if d["status"] == "delivered":
                continue
            when = f", next attempt {d['nextAt']}" if d["status"] == "pending" else ""
            error = f": {d['lastError']}" if d["lastError"] else ""
            typer.echo(f"tenant {tenant}: alert {a['key']} to {d['channel']} {d['status']} after {d['attempts']} "
                       f"attempt(s){when}{error}")


def _need(tenant: str | None) -> str:
    if tenant is None:
        from launchdeck.errors import UsageError

        raise UsageError("name the tenant", hint="add --tenant T")
    return tenant
