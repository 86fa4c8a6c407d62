"""Supply-chain preflight: the release's artefact is checked before any traffic reaches it.

One module per check, each a function that returns what it found (a sentence and data for the
evidence) or raises :class:`~launchdeck.errors.SupplyChainError` saying what failed and how to fix it:

- ``artifact``: the digest everything else is checked against (given, or the sha256 of a file);
- ``sigstore``: a Sigstore bundle verified offline, against a trusted root or a public key;
- ``attestation``: a DSSE envelope around an in-toto statement for the digest, signed by a trusted
  key, and the SLSA provenance inside it (builder and source against the plan's lists);
- ``sbom``: a CycloneDX or SPDX document describing the digest;
- ``vulns``: a Grype, Trivy or OSV report against severity limits and an allow-list with expiry;
- ``secrets``: detect-secrets over the release's configuration files (file and line, never the value);
- ``residency``: the target's region and every data store within the allowed regions.

:func:`check` runs every check the plan asks for, all of them even after a failure, so a refusal
lists every problem at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from launchdeck.errors import SupplyChainError
from launchdeck.plan.supply_model import SupplyChainSpec

Found = tuple[str, dict[str, Any]]
"""What a check found: a sentence for people and data for the evidence."""


@dataclass(frozen=True)
class Result:
    """One supply-chain check's result, as it goes into the evidence."""

    name: str
    passed: bool
    detail: str
    fix: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": f"supplyChain.{self.name}", "passed": self.passed, "detail": self.detail}
        if self.fix:
            out["fix"] = self.fix
        if self.data:
            out["data"] = self.data
        return out


def check(spec: SupplyChainSpec, *, workdir: Path, today: date) -> list[Result]:
    """Every check the plan lists, in a fixed order; ``workdir`` anchors relative paths (the plan's folder)
    and ``today`` (UTC) decides which allow-list entries have expired."""
    from launchdeck.supply import (
        artifact,
        attestation,
        residency,
        sbom,
        secrets,
        sigstore,
        vulns,
    )

    results: list[Result] = []
    subject: artifact.Artifact | None = None
    if spec.artifact is not None:
        try:
            subject = artifact.resolve(spec.artifact, workdir)
            results.append(Result("artifact", True, f"artefact {subject.describe()}", data=subject.to_json()))
        except SupplyChainError as e:
            results.append(Result("artifact", False, e.message, e.hint))

    def needing_artifact(name: str, run: Callable[[artifact.Artifact], Found]) -> None:
        if subject is None:
            why = "no artefact to check against" if spec.artifact is None else "the artefact could not be read"
            results.append(Result(name, False, f"{name}: {why}", "give preflight.supplyChain.artifact "
                                  "(digest: sha256:… or file: PATH)"))
            return
        results.append(_run(name, lambda: run(subject)))

    statement: dict[str, Any] | None = None
    if spec.signature is not None and spec.signature.sigstore is not None:
        bundle = spec.signature.sigstore
        needing_artifact("signature.sigstore", lambda a: sigstore.verify(bundle, a, workdir))
    if spec.signature is not None and spec.signature.attestation is not None:
        signed = spec.signature.attestation

        def attest(a: artifact.Artifact) -> Found:
            nonlocal statement
            statement, found = attestation.verify(signed, a, workdir)
            return found

        needing_artifact("signature.attestation", attest)
    if spec.provenance is not None:
        allowed = spec.provenance
        if statement is None:
            results.append(Result("provenance", False, "provenance: no verified attestation to read it from",
                                  "give preflight.supplyChain.signature.attestation: a SLSA provenance envelope "
                                  "signed by a key the plan trusts"))
        else:
            verified = statement
            results.append(_run("provenance", lambda: attestation.provenance(allowed, verified)))
    if spec.sbom is not None:
        document = spec.sbom
        needing_artifact("sbom", lambda a: sbom.check(document, a, workdir))
    if spec.vulnerabilities is not None:
        report = spec.vulnerabilities
        needing_artifact("vulnerabilities", lambda a: vulns.check(report, a, workdir, today))
    if spec.secrets is not None:
        files = spec.secrets
        results.append(_run("secrets", lambda: secrets.scan(files, workdir)))
    if spec.residency is not None:
        where = spec.residency
        results.append(_run("residency", lambda: residency.check(where)))
    return results


def _run(name: str, check: Callable[[], Found]) -> Result:
    try:
        detail, data = check()
    except SupplyChainError as e:
        return Result(name, False, e.message, e.hint, e.data)
    return Result(name, True, detail, data=data)
