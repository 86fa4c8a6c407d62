"""Keys, evidence bundles and the decision log."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from launchdeck.cli.common import (DEFAULT_URL, EXIT_CODES, Choice, DbOption, Output, Scenario, Stack, app,
                                   audit_app, bench_app, evidence_app, keys_app, _existing_store, _parse_start)
from launchdeck.errors import UsageError


@keys_app.command("generate")
def keys_generate(path: Annotated[Path, typer.Argument(help="Private key path; the public key goes to PATH.pub.")]) -> None:
    """Write an Ed25519 key pair for signing evidence."""
    from launchdeck import evidence

    pub = evidence.generate(path)
    typer.echo(f"private key: {path} (keep it secret)\npublic key:  {pub}")


@evidence_app.command("verify")
def evidence_verify(bundle: Annotated[Path, typer.Argument()],
                    key: Annotated[Optional[Path], typer.Option("--key", help="Trusted public key (PEM).")] = None) -> None:
    """Exit 0 when the bundle is intact and signed; otherwise name what failed."""
    from launchdeck import evidence

    trusted = evidence.load_public(key) if key else None
    result = evidence.verify_bundle(bundle, trusted)
    p = result.predicate
    typer.echo(f"OK {bundle}: signed by {result.key_id}; release {p.get('release')} "
               f"outcome {p.get('summary', {}).get('outcome')}; {len(p.get('decisions', []))} decisions; "
               f"plan {result.subject_name} sha256:{result.subject_digest[:16]}…")


@audit_app.command("verify")
def audit_verify(release: Annotated[str, typer.Argument()], db: DbOption = DEFAULT_URL) -> None:
    """Check the decision log's hash chain for a release."""

    store = _existing_store(db)
    found = store.require(name=release)
    problem = store.verify_chain(release_id=found.id)
    if problem:
        typer.echo(f"FAILED: {problem}", err=True)
        raise typer.Exit(1)
    typer.echo(f"OK: {len(store.decisions(release_id=found.id))} decisions chained intact for {release}")


