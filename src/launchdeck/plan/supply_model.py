"""The plan's supply-chain preflight (``spec.preflight.supplyChain``): what must be true of the release's
artefact before any traffic reaches it: signed by a trusted party, built where the plan allows, described
by an SBOM, scanned within severity limits, shipping no secrets, and kept in the allowed regions.

Each section is optional; the ones a plan writes are checked (``launchdeck.supply``), every result goes
into the evidence, and a failed one refuses the release (exit 4).
"""

from datetime import date
from typing import Literal

from pydantic import Field, model_validator

from launchdeck.plan.fields import Model

Level = Literal["critical", "high", "medium", "low"]


class ArtifactSpec(Model):
    """The release's artefact, by digest (an image's) or by file (whose sha256 is its digest)."""

    digest: str | None = Field(default=None, pattern=r"^sha256:[0-9a-f]{64}$")
    file: str | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> "ArtifactSpec":
        if (self.digest is None) == (self.file is None):
            raise ValueError("the artifact needs exactly one of `digest` or `file`; write digest: sha256:<64 hex> "
                             "(an image's digest) or file: dist/app.tar.gz")
        return self


class SigstoreSpec(Model):
    bundle: str
    trusted_root: str | None = None
    identity: str | None = None
    issuer: str | None = None
    key: str | None = None

    @model_validator(mode="after")
    def _one_trust(self) -> "SigstoreSpec":
        if (self.trusted_root is None) == (self.key is None):
            raise ValueError("a Sigstore bundle is checked against exactly one of `trustedRoot` (with identity and "
                             "issuer) or `key` (a public key, as `cosign verify-blob --key`)")
        if self.trusted_root is not None and not (self.identity and self.issuer):
            raise ValueError("with `trustedRoot`, give the signer's `identity` (e.g. the workflow URI or e-mail in "
                             "the certificate) and its OIDC `issuer`")
        return self


class AttestationSpec(Model):
    envelope: str
    keys: list[str] = Field(min_length=1)


class SignatureSpec(Model):
    sigstore: SigstoreSpec | None = None
    attestation: AttestationSpec | None = None

    @model_validator(mode="after")
    def _some(self) -> "SignatureSpec":
        if self.sigstore is None and self.attestation is None:
            raise ValueError("a signature check needs `sigstore` (a bundle) or `attestation` (a DSSE envelope), "
                             "or both")
        return self


class ProvenanceSpec(Model):
    builders: list[str] = Field(min_length=1)
    sources: list[str] = Field(min_length=1)


class SbomSpec(Model):
    path: str


class AllowSpec(Model):
    id: str = Field(min_length=1)
    reason: str = Field(min_length=1)
    expires: date


class VulnerabilitiesSpec(Model):
    report: str
    format: Literal["auto", "grype", "trivy", "osv"] = "auto"
    limits: dict[Level, int] = Field(default={"critical": 0, "high": 0})
    allow: list[AllowSpec] = []


class SecretsSpec(Model):
    files: list[str] = Field(min_length=1)


class ResidencySpec(Model):
    allowed: list[str] = Field(min_length=1)
    region: str
    data_stores: dict[str, str] = {}


class SupplyChainSpec(Model):
    artifact: ArtifactSpec | None = None
    signature: SignatureSpec | None = None
    provenance: ProvenanceSpec | None = None
    sbom: SbomSpec | None = None
    vulnerabilities: VulnerabilitiesSpec | None = None
    secrets: SecretsSpec | None = None
    residency: ResidencySpec | None = None
