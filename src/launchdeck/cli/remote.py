"""The CLI acting through a launchdeck server: `--server URL` (or LAUNCHDECK_SERVER) with `--token`
(or LAUNCHDECK_TOKEN). Without a server the commands use the local store, as always.

Each command sends what it would have done locally to the API, which applies the same services and
role checks; the person is the token's. The server's problem documents come back as launchdeck
errors, with the same exit statuses as the local commands (a refusal or an unknown release: 2).
The token is sent as a bearer header and never printed.
"""

from __future__ import annotations

from typing import Annotated, Any, Optional

import typer

from launchdeck.errors import Conflict, LaunchdeckError, NotFound, Refused, Unauthenticated, UsageError

ServerOption = Annotated[Optional[str], typer.Option(
    "--server", envvar="LAUNCHDECK_SERVER", help="Act through this launchdeck server's API instead of the local store.")]
TokenOption = Annotated[Optional[str], typer.Option(
    "--token", envvar="LAUNCHDECK_TOKEN", show_default=False,
    help="API token for --server (better: LAUNCHDECK_TOKEN, kept out of shell history).")]

_STATUS_ERRORS: dict[int, type[LaunchdeckError]] = {401: Unauthenticated, 403: Refused, 404: NotFound,
                                                    409: Conflict, 422: UsageError}


class Remote:
    """A launchdeck server's API at ``url``, as the person of ``token``."""

    def __init__(self, url: str, token: str | None) -> None:
        if not token:
            raise UsageError(f"--server {url} needs an API token",
                             hint="set LAUNCHDECK_TOKEN (or --token) to a token from `launchdeck tokens create`")
        if not url.startswith(("http://", "https://")):
            raise UsageError(f"--server {url!r} is not an http(s) URL", hint="e.g. --server http://127.0.0.1:8080")
        self.url = url.rstrip("/")
        self._token = token

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        import httpx

        try:
            response = httpx.request(method, f"{self.url}/api/v1{path}", json=body, timeout=30.0,
                                     headers={"Authorization": f"Bearer {self._token}", "Accept": "application/json"})
        except httpx.HTTPError as e:
            raise UsageError(f"cannot reach the launchdeck server at {self.url}: {e.__class__.__name__}: {e}",
                             hint="check --server / LAUNCHDECK_SERVER and that `launchdeck server` runs there") from None
        if response.is_success:
            return response.json() if response.content else None
        raise _problem(response.status_code, response)


def _problem(status: int, response: Any) -> LaunchdeckError:
    try:
        doc = response.json()
    except ValueError:
        doc = {}
    if not isinstance(doc, dict):
        doc = {}
    detail = str(doc.get("detail") or doc.get("title") or f"HTTP {status}")
    problems = doc.get("problems") or []
    if problems:
        detail += "".join(f"\n{p.get('file', '')}:{p.get('line', '')}: {p.get('message', '')}"
                          + (f"\n    fix: {p['fix']}" if p.get("fix") else "") for p in problems if isinstance(p, dict))
    kind = _STATUS_ERRORS.get(status)
    if kind is None:
        return LaunchdeckError(f"the server answered HTTP {status}: {detail}", hint=str(doc.get("hint") or ""))
    return kind(detail, hint=str(doc.get("hint") or ""))


def remote(server: str | None, token: str | None) -> Remote | None:
    """The server to act through, or None to use the local store."""
    return Remote(server, token) if server else None


def person(who: str | None, api: Remote | None) -> str:
    """The person acting: ``--as`` locally; with a server, the token's person (``--as`` is refused, so
    nobody believes they signed as someone else)."""
    if api is not None:
        if who is not None:
            raise UsageError("with --server you act as your API token's person; leave out --as",
                             hint="a token is one person in one tenant: `launchdeck tokens create --person NAME …`")
        return ""
    if who is None:
        raise UsageError("give --as NAME (your name, as the plan lists it under roles)",
                         hint="or act through a server with --server URL and your API token")
    return who


def own_tenant(asked: str | None, token_tenant: str | None, what: str) -> None:
    """Refuse ``--tenant`` naming a tenant other than the API token's: through a server a token sees only its
    own tenant's ``what``."""
    if asked is not None and asked != token_tenant:
        raise UsageError(f"--tenant {asked}: through --server you see only your API token's tenant's {what} "
                         f"(tenant {token_tenant}), never another tenant's",
                         hint=f"leave out --tenant, or use a token of tenant {asked}")


def act(api: Remote, release: str, path: str, body: dict[str, Any]) -> None:
    """POST a person's action on ``release`` and print what the server recorded."""
    from urllib.parse import quote

    done = api.call("POST", f"/releases/{quote(release, safe='')}/{path}", body)
    typer.echo(done.get("message") or f"recorded: {done.get('action')} by {done.get('who')} for {release}")
