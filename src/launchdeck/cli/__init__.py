"""The `launchdeck` command: validate, run, demo, approve, status, why, evidence, keys, sample-app.

Every expected failure is a LaunchdeckError printed as one message with a hint, never a traceback.
Exit status: 0 promoted, 3 rolled back, 4 held or refused, 1 a fault, 2 bad input, 5 promoted (or
`messages flush` done) with messages still undelivered.
Each module registers its commands on the shared ``app`` (``cli/common.py``). `validate PLAN` and
`--version` are answered before Typer is imported (``cli/quick.py``); all else goes through Typer.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from launchdeck.cli import quick
from launchdeck.errors import LaunchdeckError


def main(argv: list[str] | None = None) -> int:
    # Pydantic looks for plugins (observability hooks) by scanning every installed package's metadata
    # at each start; launchdeck uses none, and Typer already turns them off for its own adapters.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    try:
        command = quick.answer(sys.argv[1:] if argv is None else list(argv))
        if command is not None:
            quick.run(command, whole_process=argv is None)  # None: the arguments are the process's own
            return 0
        return _through_typer(argv)
    except LaunchdeckError as e:
        print(f"launchdeck: {e.message}", file=sys.stderr)
        if e.hint:
            print(f"  hint: {e.hint}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("launchdeck: interrupted; run the same command again to resume", file=sys.stderr)
        return 130


def _through_typer(argv: list[str] | None) -> int:
    """Run the Typer app; its exits and usage errors become exit statuses, LaunchdeckError and
    KeyboardInterrupt go up to ``main``."""
    import typer

    app = typer_app()
    try:
        code = app(args=argv, standalone_mode=False)
        return code if isinstance(code, int) else 0
    except typer.Exit as e:
        return int(e.exit_code)
    except LaunchdeckError:
        raise
    except Exception as e:  # the command-line library's usage errors and aborts
        code = _library_exit(e)
        if code is None:
            raise
        return code


def typer_app() -> Any:
    """The Typer app with every command registered."""
    from launchdeck.cli import running, people, control, inspect, proof, messages, team, tools, serving, tenants, plans, guard  # noqa: F401,I001  (they register commands, in help order)
    from launchdeck.cli.common import app

    return app


def _library_exit(e: Exception) -> int | None:
    """Show a usage error raised by typer/click (a wrong flag, a missing argument) and return its
    exit status; None for anything else. Typer >= 0.26 vendors click as ``typer._click`` and no
    longer installs ``click``, so both spellings are recognised."""
    import typer

    kinds: list[type[Exception]] = []
    aborts: list[type[BaseException]] = [typer.Abort]
    try:
        from typer.exceptions import TyperException

        kinds.append(TyperException)
    except ImportError:  # pragma: no cover - older typer
        pass
    try:
        import click

        kinds.append(click.exceptions.ClickException)
        aborts.append(click.exceptions.Abort)
    except ImportError:
        pass
    if kinds and isinstance(e, tuple(kinds)):
        show = getattr(e, "show", None)
        if callable(show):
            show()
        else:
            print(f"Error: {e}", file=sys.stderr)
        return int(getattr(e, "exit_code", 2))
    if isinstance(e, tuple(aborts)):
        return 1
    return None


if __name__ == "__main__":
    sys.exit(main())
