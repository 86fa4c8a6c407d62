"""Commands answered before Typer is imported: `launchdeck validate PLAN` and `launchdeck --version`.

Importing Typer and building the app costs about a third of `validate`'s start (issue 16 asks for
under 200 ms), more than checking the plan. These two invocations, written exactly so, are answered
here; their Typer commands print the same through the same functions. Any other form, such as
`validate --help`, a flag, a missing or extra argument or anything starting with `-`, goes to
Typer, so help and usage errors stay Typer's own.
"""

from __future__ import annotations

import atexit
import gc
import os
import sys
import types
from collections.abc import Callable
from pathlib import Path

from launchdeck import __version__


def answer(args: list[str]) -> Callable[[], None] | None:
    """The command to run without Typer for these arguments, or None when Typer must parse them."""
    if args == ["--version"]:
        return print_version
    if len(args) == 2 and args[0] == "validate" and not args[1].startswith("-"):
        plan = Path(args[1])
        return lambda: validate(plan)
    return None


def run(command: Callable[[], None], *, whole_process: bool) -> None:
    """Run a quick command without Python's cyclic garbage collector, and (``whole_process``: the
    process runs only this command) skip the collector's work at exit.

    These commands make long-lived objects (modules, pydantic's model classes and validator) and
    little cyclic garbage, yet the collector walks them again and again while they are made, and
    twice in full when the interpreter exits: about 6% of `validate`'s instructions. The collector is
    paused while the command runs and turned back on after it, for a caller that goes on (the tests).
    When the process is the command, what is left is frozen at exit (``gc.freeze``), so the exit
    collections walk nothing: the process's memory goes back to the system at once, as it would anyway.
    """
    was_on = gc.isenabled()
    gc.disable()
    try:
        command()
    finally:
        if was_on:
            # What the command made goes to the oldest generation without being walked (which turning
            # the collector back on with them all in the youngest would do at the next allocation).
            gc.freeze()
            gc.unfreeze()
            gc.enable()
        if whole_process:
            atexit.register(gc.freeze)


def print_version() -> None:
    """launchdeck's version. The package's ``__version__`` is the distribution's (pyproject.toml
    reads it), so no installed metadata is scanned."""
    _echo(f"launchdeck {__version__}")


def validate(plan: Path, time_scale: float = 1.0) -> None:
    """Check a plan: one line when it is valid, then its warnings on stderr; a PlanError otherwise."""
    _skip_plugin_scan()
    from launchdeck.plan import advice, load_plan

    loaded = load_plan(plan)
    kind = "release train" if loaded.is_train else "release"
    extra = f" with {len(loaded.services)} services" if loaded.is_train else ""
    _echo(f"{plan}: valid {kind} '{loaded.name}'{extra} ({loaded.digest[:19]}…)")
    # Warnings, not problems: the plan is valid and validate exits 0.
    for warning in advice.of_plan(loaded, time_scale):
        _echo(f"warning: {warning}", err=True)


def _skip_plugin_scan() -> None:
    """Spare `validate` pydantic's plugin loader when plugins are off.

    ``PYDANTIC_DISABLE_PLUGINS`` (which ``cli.main`` sets unless the user did) makes pydantic's
    ``get_plugins()`` return nothing, yet the module that holds it imports ``importlib.metadata``
    (with email, zipfile, csv, socket: about 20 ms of this command's 150) before looking at the
    variable. This process only checks one plan and exits, so the loader is replaced by one that
    answers what the real one answers when plugins are off. Any other command keeps pydantic's own.
    """
    if os.environ.get("PYDANTIC_DISABLE_PLUGINS") not in ("__all__", "1", "true"):
        return
    name = "pydantic.plugin._loader"
    if name not in sys.modules:
        loader = types.ModuleType(name, "pydantic's plugin loader, plugins being off (launchdeck.cli.quick)")
        loader.get_plugins = tuple  # type: ignore[attr-defined]  # () like the real one with plugins off
        sys.modules[name] = loader


def _echo(text: str, *, err: bool = False) -> None:
    # Flushed at once, like typer.echo, so stdout and stderr keep their order in a shared pipe.
    print(text, file=sys.stderr if err else sys.stdout, flush=True)
