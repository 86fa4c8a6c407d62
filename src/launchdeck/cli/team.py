"""Commands for a team's control plane: `launchdeck worker` (drives due releases until stopped)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from launchdeck.cli.common import DEFAULT_URL, DbOption, app


@app.command()
def worker(db: DbOption = DEFAULT_URL,
           lease: Annotated[str, typer.Option("--lease", help="How long a lease lasts unless renewed (e.g. 15s).")] = "15s",
           capacity: Annotated[int, typer.Option("--capacity", min=1, help="At most this many releases at once.")] = 10_000,
           home: Annotated[Path, typer.Option("--home", help="Where plans submitted from elsewhere are written.")] = Path("launchdeck-data"),
           max_attempts: Annotated[int, typer.Option("--max-attempts", min=1, help="Failed attempts in a row to drive a "
                                                     "release before the workers give it up.")] = 8) -> None:
    """Drive every due release in the store (any tenant) until stopped; SIGTERM lets each finish its tick."""
    import asyncio
    import logging
    import signal
    import sys

    from launchdeck.controller.worker import Worker
    from launchdeck.plan.units import parse_duration
    from launchdeck.errors import UsageError

    try:
        seconds = parse_duration(lease)
    except ValueError as e:
        raise UsageError(f"--lease {lease!r}: {e}", hint="a duration such as 15s or 1m") from None
    if seconds < 1:
        raise UsageError(f"--lease {lease}: a lease shorter than 1s would be lost between two ticks", hint="e.g. 15s")
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="launchdeck worker: %(message)s")
    w = Worker(db, lease_seconds=seconds, capacity=capacity, home=home, max_attempts=max_attempts)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await w.run(stop)

    asyncio.run(main())
    typer.echo(f"worker {w.holder} stopped; {len(w.ended)} release(s) handed over or finished", err=True)
