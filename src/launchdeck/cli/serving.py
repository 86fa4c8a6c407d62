"""The control plane's commands: `launchdeck server` (the API, with one worker in-process) and `launchdeck tokens`."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from launchdeck.cli.common import _PLAIN, DEFAULT_URL, DbOption, Output, app
from launchdeck.errors import UsageError

tokens_app = typer.Typer(no_args_is_help=True, help="API tokens: each is a person in a tenant with an API role.",
                         **_PLAIN)
app.add_typer(tokens_app, name="tokens")


class ApiRole(str, Enum):
    viewer = "viewer"
    operator = "operator"
    admin = "admin"


@app.command()
def server(host: Annotated[str, typer.Option("--host", help="Address to listen on (TLS: put a proxy in front).")] = "127.0.0.1",
           port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port (0: any free one).")] = 8080,
           db: DbOption = DEFAULT_URL,
           no_worker: Annotated[bool, typer.Option("--no-worker", help="Serve the API only; `launchdeck worker` "
                                                                        "processes drive the releases.")] = False) -> None:
    """Serve the dashboard (/ui), the REST API (/api/v1, /docs), event streams, /graphql and /metrics; and drive releases in this
    process unless --no-worker. Stop with Ctrl-C or SIGTERM."""
    import uvicorn

    from launchdeck.server.app import create_app
    from launchdeck.store.repo import location

    sock = _listen(host, port)
    api = create_app(db, embedded_worker=not no_worker, data_dir=Path.cwd() / "launchdeck-data")
    bound = sock.getsockname()
    shown = f"[{bound[0]}]" if ":" in bound[0] else bound[0]
    typer.echo(f"launchdeck server: listening on http://{shown}:{bound[1]} (dashboard at /ui, API docs at /docs); release store: "
               f"{location(db)}; {'no worker: run `launchdeck worker`' if no_worker else 'one worker in this process'}",
               err=True)
    _server(uvicorn.Config(api, log_level="info", timeout_graceful_shutdown=10)).run(sockets=[sock])
    typer.echo("launchdeck server: stopped", err=True)


def _server(config: Any) -> Any:
    """A uvicorn server that stops on SIGTERM or Ctrl-C, lets the worker finish its tick and hand its leases
    over, and exits 0 (uvicorn itself re-raises the signal once it has shut down)."""
    import contextlib
    import signal
    from collections.abc import Iterator

    import uvicorn

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            before = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
            try:
                yield
            finally:
                for sig, handler in before.items():
                    signal.signal(sig, handler)

    return Server(config)


def _listen(host: str, port: int) -> Any:
    """A listening socket on host:port, or a UsageError saying why not (the port is taken, the host unknown)."""
    import socket

    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                             flags=socket.AI_PASSIVE)[0]
    except socket.gaierror as e:
        raise UsageError(f"--host {host}: {e.strerror}", hint="e.g. --host 127.0.0.1, or 0.0.0.0 for every address") from None
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(2048)
    except OSError as e:
        sock.close()
        raise UsageError(f"cannot listen on {host}:{port}: {e.strerror}",
                         hint="is another server on that port? choose another with --port") from None
    sock.set_inheritable(True)
    return sock


@tokens_app.command("create")
def tokens_create(tenant: Annotated[str, typer.Option("--tenant", help="The tenant the token acts in.")],
                  person: Annotated[str, typer.Option("--person", help="Who it is, as the plans list people.")],
                  role: Annotated[ApiRole, typer.Option("--role", help="viewer reads; operator also starts and acts "
                                                                       "on releases; admin also registers plans.")],
                  db: DbOption = DEFAULT_URL) -> None:
    """Make an API token and print it, once: only its SHA-256 is kept."""
    from launchdeck.store import tokens
    from launchdeck.store.repo import Store

    with Store(db) as store:
        token, made = tokens.create(store, tenant=tenant, person=person, role=role.value)
    typer.echo(token)
    typer.echo(f"token {made.prefix} for {person} ({role.value}) in tenant {tenant}: it is shown this once; send it "
               "as `Authorization: Bearer <token>`; revoke it with `launchdeck tokens revoke "
               f"{made.prefix}`", err=True)


@tokens_app.command("list")
def tokens_list(output: Annotated[Output, typer.Option("--output")] = Output.text, db: DbOption = DEFAULT_URL) -> None:
    """Every token: prefix, tenant, person, role, when made, when revoked (never the token)."""
    from launchdeck.cli.common import _existing_store
    from launchdeck.store import tokens

    with _existing_store(db) as store:
        rows = [{"prefix": t.prefix, "tenant": t.tenant, "person": t.person, "role": t.role,
                 "createdAt": t.created_at.isoformat(), "revokedAt": t.revoked_at.isoformat() if t.revoked_at else None,
                 "lastUsedAt": t.last_used_at.isoformat() if t.last_used_at else None} for t in tokens.tokens(store)]
    if output is Output.json:
        typer.echo(json.dumps(rows))
        return
    if not rows:
        typer.echo("no API tokens yet: `launchdeck tokens create --tenant T --person P --role viewer`")
        return
    from launchdeck.cli.inspect import _print_table, _short_time

    _print_table(("prefix", "tenant", "person", "role", "created", "revoked"),
                 [(r["prefix"], r["tenant"], r["person"], r["role"], _short_time(r["createdAt"]),
                   _short_time(r["revokedAt"])) for r in rows])


@tokens_app.command("revoke")
def tokens_revoke(prefix: Annotated[str, typer.Argument(help="The token's prefix (see `tokens list`).")],
                  db: DbOption = DEFAULT_URL) -> None:
    """Revoke a token: the API refuses it from now on (401)."""
    from launchdeck.cli.common import _existing_store
    from launchdeck.store import tokens

    with _existing_store(db) as store:
        done = tokens.revoke(store, prefix)
    typer.echo(f"revoked token {done.prefix} of {done.person} ({done.role}) in tenant {done.tenant}")
