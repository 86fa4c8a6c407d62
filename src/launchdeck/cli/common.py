"""What every command shares: the Typer app and its groups, options, exit codes, the store opener.

Heavy modules (SQLAlchemy, the engine, cryptography) are imported inside the commands that use them,
so `launchdeck --help` and `validate` start fast.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from launchdeck.cli import quick
from launchdeck.errors import UsageError
from launchdeck.store.defaults import DEFAULT_URL  # noqa: F401  (re-exported: every command's --db default)

#: Plain help text: Typer's Rich formatting costs a tenth of a second at every start.
_PLAIN: dict[str, Any] = {"rich_markup_mode": None}

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False, **_PLAIN,
                  help="Run release runbooks: move traffic, judge the canary, ask people, tell everyone, keep proof.")
keys_app = typer.Typer(no_args_is_help=True, help="Signing keys for evidence.", **_PLAIN)
evidence_app = typer.Typer(no_args_is_help=True, help="Signed evidence bundles.", **_PLAIN)
audit_app = typer.Typer(no_args_is_help=True, help="The tamper-evident decision log.", **_PLAIN)
app.add_typer(keys_app, name="keys")
app.add_typer(evidence_app, name="evidence")
app.add_typer(audit_app, name="audit")
bench_app = typer.Typer(no_args_is_help=True, help="Benchmarks that print a table.", **_PLAIN)
app.add_typer(bench_app, name="bench")


def _print_version(value: bool) -> None:
    if value:
        quick.print_version()
        raise typer.Exit(0)


@app.callback()
def _options(version: Annotated[bool, typer.Option("--version", is_eager=True, callback=_print_version,
                                                   help="Print launchdeck's version and exit.")] = False) -> None:
    """Options before the command."""


EXIT_CODES = {"promoted": 0, "rolled_back": 3, "held": 4, "refused": 4, "aborted": 1}
#: A promoted release whose messages did not all go out, and `messages flush` that left some queued.
UNDELIVERED_EXIT = 5


def exit_code(summary: dict[str, Any]) -> int:
    """The outcome's exit status, except that a promotion with messages still in the outbox exits
    5: 0 promises that everything is done, including telling people. A rollback, hold or refusal
    keeps its own code (a script must never mistake a rollback for something milder); its summary's
    ``undelivered`` says what is left."""
    code = EXIT_CODES.get(summary.get("outcome") or "aborted", 1)
    if code == 0 and (summary.get("undelivered") or {}).get("count"):
        return UNDELIVERED_EXIT
    return code


DbOption = Annotated[str, typer.Option("--db", envvar="LAUNCHDECK_DB", help="SQLAlchemy URL of the release store.")]
TenantOption = Annotated[str | None, typer.Option(
    "--tenant", envvar="LAUNCHDECK_TENANT",
    help="The release's tenant (metadata.tenant), when two tenants have a release of this name "
         "(local store; with --server the token's tenant).")]


class Output(str, Enum):
    text = "text"
    json = "json"


class Scenario(str, Enum):
    bad = "bad"
    good = "good"


class Stack(str, Enum):
    haproxy = "haproxy"
    nginx = "nginx"


class Baseline(str, Enum):
    """What the stack demo compares the canary with (``analysis.baseline``)."""

    stable = "stable"
    same_age = "same-age"


class Choice(str, Enum):
    rollback = "rollback"
    continue_ = "continue"


def _existing_store(db: str) -> Any:
    """The store a run wrote; a command about a release must not create an empty database."""
    from launchdeck.store.repo import Store

    if db.startswith("sqlite:///") and not Path(db.removeprefix("sqlite:///")).exists():
        raise UsageError(f"no launchdeck database at {db.removeprefix('sqlite:///')}",
                         hint="run this where `launchdeck run` ran, or pass the same --db (or LAUNCHDECK_DB)")
    return Store(db)


def _parse_start(text: str | None) -> Any:
    from datetime import UTC, datetime

    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--start-at {text!r} is not an ISO 8601 time", hint="e.g. 2026-11-24T08:15:00+00:00") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _run_workdir(found: Any) -> Path:
    """The folder a release's run resolved the plan's relative paths from (evidence, keys, channels),
    so a later command (kill, retry, messages flush) writes where the run did."""
    return Path(found.state.get("workdir") or Path(found.plan_path).parent)
