"""Commands about a release's messages: what its outbox holds, and delivering what is left."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer
from typer.core import TyperGroup

from launchdeck.cli.common import (DEFAULT_URL, UNDELIVERED_EXIT, DbOption, TenantOption, _existing_store, _run_workdir,
                                   app)
from launchdeck.errors import UsageError

if TYPE_CHECKING:  # an annotation only: importing click costs `launchdeck --help` about 10 ms
    import click


class _ReleaseOrCommand(TyperGroup):
    """``launchdeck messages RELEASE`` is ``launchdeck messages list RELEASE``."""

    def resolve_command(self, ctx: click.Context, args: list[str]) -> Any:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["list", *args]
        return super().resolve_command(ctx, args)


messages_app = typer.Typer(cls=_ReleaseOrCommand, no_args_is_help=True,
                           help="A release's messages: `messages RELEASE` lists them, `messages flush` delivers "
                                "what is left.")
app.add_typer(messages_app, name="messages")


@messages_app.command("flush")
def flush(release: Annotated[str, typer.Argument(help="Release name (the plan's metadata.name).")],
          plan: Annotated[Optional[Path], typer.Option("--plan", help="The plan the release ran with "
                                                       "(default: the path its run was given).")] = None,
          db: DbOption = DEFAULT_URL, tenant: TenantOption = None) -> None:
    """Deliver the release's queued messages, in order, once each; exit 5 if a channel still refuses."""
    import asyncio

    from launchdeck.controller.outbox import flush_release, undelivered
    from launchdeck.plan import load_plan

    store = _existing_store(db)
    found = store.require(name=release, tenant=tenant)
    if plan is None and not Path(found.plan_path).is_file():
        raise UsageError(f"{found.name} ran with the plan {found.plan_path}, which is not here",
                         hint="run this in the directory the run ran in, or pass --plan PATH")
    loaded = load_plan(plan or Path(found.plan_path))
    if loaded.digest != found.plan_digest:
        typer.echo(f"note: {loaded.path} has changed since the run; its channels are used as they are now", err=True)
    done = asyncio.run(flush_release(store=store, release=found, plan=loaded, workdir=_run_workdir(found)))
    for row in done.sent:
        typer.echo(f"sent #{row.id} to {row.channel}: {row.event} — {row.title}")
    left = store.pending_messages(release_id=found.id)
    for channel in sorted({row.channel for row in left}):
        count = sum(row.channel == channel for row in left)
        error = done.refused.get(channel) or next(r.last_error for r in left if r.channel == channel) or "not tried"
        typer.echo(f"still queued: {count} message(s) for {channel}, refused: {error}")
    summary = undelivered(store, found.id)
    if summary["count"]:
        typer.echo(f"{found.name}: {len(done.sent)} sent, {summary['count']} still undelivered; run this again "
                   f"once the channel is back")
        raise typer.Exit(UNDELIVERED_EXIT)
    typer.echo(f"{found.name}: {len(done.sent)} sent; every message is delivered" if done.sent
               else f"{found.name}: nothing left to deliver")


@messages_app.command("list")
def list_(release: Annotated[str, typer.Argument(help="Release name (the plan's metadata.name).")],
          db: DbOption = DEFAULT_URL, tenant: TenantOption = None) -> None:
    """Every message of the release in order: its channel, when it was sent or that it is pending, and each
    delivery attempt (when, and why a refused one was refused)."""
    from launchdeck.store import chat

    store = _existing_store(db)
    found = store.require(name=release, tenant=tenant)
    rows = store.messages(release_id=found.id)
    tried = chat.attempts(store, release_id=found.id)
    if not rows:
        typer.echo(f"{found.name} has no messages")
    for row in rows:
        if row.sent_at is not None:
            state = f"sent {row.sent_at.isoformat(timespec='seconds')}"
        elif row.attempts:
            state = f"pending, failing ({row.attempts} attempt(s)): {row.last_error}"
        else:
            state = "pending (not tried yet)"
        typer.echo(f"#{row.id:<5} {row.channel:<14} {row.event:<20} {row.title}\n       {state}")
        attempts = tried.get(row.id, [])
        if len(attempts) > 1 or (attempts and attempts[0].error):
            for a in attempts:
                typer.echo(f"       · {a.at.isoformat(timespec='seconds')} {'refused: ' + a.error if a.error else 'delivered'}")
    pending = sum(row.sent_at is None for row in rows)
    if rows:
        typer.echo(f"{len(rows)} message(s): {len(rows) - pending} sent, {pending} pending")
