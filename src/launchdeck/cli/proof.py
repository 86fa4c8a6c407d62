"""Keys, evidence bundles and the decision log."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from launchdeck.cli.common import (DEFAULT_URL, DbOption, TenantOption, audit_app, evidence_app, keys_app,
                                   _existing_store)


@keys_app.command("generate")
def keys_generate(path: Annotated[Path, typer.Argument(help="Private key path; the public key goes to PATH.pub.")]) -> None:
    """Write an Ed25519 key pair for signing evidence."""
    from launchdeck import evidence

    pub = evidence.generate(path)
    typer.echo(f"private key: {path} (keep it secret)\npublic key:  {pub}")


KeyOption = Annotated[Optional[list[Path]], typer.Option(
    "--key", help="Trust exactly this public key (PEM); repeatable. Default: the --plan's evidence.trustedKeys "
                  "and your trusted-keys file.")]
PlanOption = Annotated[Optional[Path], typer.Option(
    "--plan", help="Also trust the keys this plan lists in evidence.trustedKeys.")]


@evidence_app.command("verify")
def evidence_verify(bundle: Annotated[Path, typer.Argument()], key: KeyOption = None, plan: PlanOption = None) -> None:
    """Exit 0 when the bundle is intact and signed by a trusted key; otherwise name what failed."""
    from launchdeck import evidence
    from launchdeck.controller.audit import trusted_keys
    from launchdeck.errors import EvidenceError

    trusted = trusted_keys(keys=key or [], plan=plan)
    result = evidence.verify_bundle(bundle)
    if not trusted.trusts(result.key_id):
        raise EvidenceError(f"evidence bundle {bundle}: {trusted.untrusted(result.key_id)}", hint=trusted.hint())
    p = result.predicate
    typer.echo(f"OK {bundle}: signed by {result.key_id} (trusted: {trusted.sources[result.key_id]}); "
               f"release {p.get('release')} outcome {p.get('summary', {}).get('outcome')}; "
               f"{len(p.get('decisions', []))} decisions; plan {result.subject_name} sha256:{result.subject_digest[:16]}…")


@audit_app.command("verify")
def audit_verify(release: Annotated[str, typer.Argument()], key: KeyOption = None, plan: PlanOption = None,
                 bundle: Annotated[Optional[Path], typer.Option(
                     "--bundle", help="Compare with this final bundle (default: the one the release wrote).")] = None,
                 db: DbOption = DEFAULT_URL, tenant: TenantOption = None) -> None:
    """Check a release's decision log: its hash chain, its signed heads, its final bundle and its release row."""
    from launchdeck.controller.audit import trusted_keys, verify_release

    trusted = trusted_keys(keys=key or [], plan=plan)
    store = _existing_store(db)
    report = verify_release(store, store.require(name=release, tenant=tenant), trusted, bundle)
    for note in report.notes:
        typer.echo(f"note: {note}", err=not report.ok)
    if not report.ok:
        for problem in report.problems:
            typer.echo(f"FAILED: {problem}", err=True)
        raise typer.Exit(1)
    typer.echo(f"OK: {report.checked[0]}" + "".join(f"\n  - {line}" for line in report.checked[1:]))
