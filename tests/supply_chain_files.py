"""A release's supply-chain files, made the way the real tools make them, for the supply tests.

``ReleaseFiles(folder)`` writes a release that passes every check: an image digest signed through the
tests' own Sigstore instance (and with a cosign-style key), a SLSA v1 provenance in a DSSE envelope
signed by the builder's Ed25519 key, a CycloneDX SBOM made with cyclonedx-python-lib and an SPDX one,
Grype / Trivy / OSV-Scanner reports shaped as those tools write them, and clean configuration files.
Each test then breaks one thing.
"""

from __future__ import annotations

import base64
import hashlib
import json
import textwrap
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from synthetic_sigstore import SyntheticSigstore, key_bundle

from launchdeck.evidence.bundle import pae

IMAGE = b"intelgraph-api v0.1.0 image manifest"
DIGEST_HEX = hashlib.sha256(IMAGE).hexdigest()
DIGEST = f"sha256:{DIGEST_HEX}"
BUILDER = "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3.yml@refs/tags/v2.0.0"
SOURCE = "git+https://github.com/acme/intelgraph@refs/heads/main"
FAKE_AWS_KEY = "AKIAIOSFODNN7EXAMPLE"  # AWS's documented example key: a real detector's finding, no real key


def pem(key: Any) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


class ReleaseFiles:
    def __init__(self, folder: Path, sigstore: SyntheticSigstore | None = None) -> None:
        self.folder = folder
        self.sigstore = sigstore or SyntheticSigstore()
        self.cosign_key = ec.generate_private_key(ec.SECP256R1())
        self.builder_key = ed25519.Ed25519PrivateKey.generate()
        self.write_json("trusted_root.json", self.sigstore.trusted_root())
        self.write_json("image.sigstore.json", self.sigstore.sign(DIGEST_HEX))
        self.write_json("image.key.sigstore.json", key_bundle(self.cosign_key, DIGEST_HEX))
        (folder / "cosign.pub").write_bytes(pem(self.cosign_key))
        (folder / "builder.pub").write_bytes(pem(self.builder_key))
        self.write_text("provenance.intoto.jsonl", json.dumps(self.attestation()) + "\n")
        self.write_text("sbom.cdx.json", cyclonedx_sbom(DIGEST_HEX))
        self.write_json("sbom.spdx.json", spdx_sbom(DIGEST_HEX))
        self.write_json("grype.json", grype_report(DIGEST, [("CVE-2023-0464", "Low", "openssl", "3.0.1")]))
        (folder / "config").mkdir(exist_ok=True)
        self.write_text("config/app.yaml", "db:\n  host: orders-db.internal\n  user: app\nlog_level: info\n")
        self.write_text("config/flags.yaml", "canary:\n  enable: true\n")

    # -- writing -----------------------------------------------------------------------------------
    def write_text(self, name: str, text: str) -> Path:
        path = self.folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    def write_json(self, name: str, document: Any) -> Path:
        return self.write_text(name, json.dumps(document, indent=2))

    def attestation(self, *, builder: str = BUILDER, source: str = SOURCE, digest_hex: str = DIGEST_HEX,
                    key: ed25519.Ed25519PrivateKey | None = None) -> dict[str, Any]:
        """A SLSA v1 provenance statement in a DSSE envelope, as the SLSA generator writes it."""
        statement = {
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [{"name": "ghcr.io/acme/intelgraph-api", "digest": {"sha256": digest_hex}}],
            "predicateType": "https://slsa.dev/provenance/v1",
            "predicate": {
                "buildDefinition": {
                    "buildType": "https://slsa-framework.github.io/github-actions-buildtypes/workflow/v1",
                    "externalParameters": {"workflow": {"ref": "refs/heads/main",
                                                        "repository": "https://github.com/acme/intelgraph",
                                                        "path": ".github/workflows/release.yml"}},
                    "resolvedDependencies": [{"uri": source, "digest": {"gitCommit": "a" * 40}}]},
                "runDetails": {"builder": {"id": builder}, "metadata": {"invocationId": "run-1"}}}}
        payload = json.dumps(statement).encode()
        signature = (key or self.builder_key).sign(pae("application/vnd.in-toto+json", payload))
        return {"payloadType": "application/vnd.in-toto+json", "payload": base64.b64encode(payload).decode(),
                "signatures": [{"keyid": "", "sig": base64.b64encode(signature).decode()}]}

    def plan_section(self) -> dict[str, Any]:
        """``spec.preflight.supplyChain`` of a plan in this folder that checks everything."""
        return {
            "artifact": {"digest": DIGEST},
            "signature": {
                "sigstore": {"bundle": "image.sigstore.json", "trustedRoot": "trusted_root.json",
                             "identity": self.sigstore.identity, "issuer": self.sigstore.issuer},
                "attestation": {"envelope": "provenance.intoto.jsonl", "keys": ["builder.pub"]}},
            "provenance": {"builders": [BUILDER.split("@")[0] + "@*"], "sources": ["git+https://github.com/acme/intelgraph"]},
            "sbom": {"path": "sbom.cdx.json"},
            "vulnerabilities": {"report": "grype.json", "limits": {"critical": 0, "high": 0}},
            "secrets": {"files": ["config/*.yaml"]},
            "residency": {"allowed": ["us-*"], "region": "us-west-2", "dataStores": {"orders-db": "us-east-1"}},
        }


def cyclonedx_sbom(digest_hex: str) -> str:
    import warnings

    from cyclonedx.model import HashAlgorithm, HashType
    from cyclonedx.model.bom import Bom
    from cyclonedx.model.component import Component, ComponentType
    from cyclonedx.output.json import JsonV1Dot5
    from packageurl import PackageURL

    bom = Bom()
    bom.metadata.component = Component(
        name="ghcr.io/acme/intelgraph-api", version=f"sha256:{digest_hex}", type=ComponentType.CONTAINER,
        hashes=[HashType(alg=HashAlgorithm.SHA_256, content=digest_hex)])
    bom.components.add(Component(name="openssl", version="3.0.1", type=ComponentType.LIBRARY,
                                 purl=PackageURL("deb", "debian", "openssl", "3.0.1")))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the library warns that the dependency graph is incomplete
        return JsonV1Dot5(bom).output_as_string(indent=2)


def spdx_sbom(digest_hex: str) -> dict[str, Any]:
    return {
        "spdxVersion": "SPDX-2.3", "dataLicense": "CC0-1.0", "SPDXID": "SPDXRef-DOCUMENT",
        "name": "ghcr.io/acme/intelgraph-api", "documentNamespace": "https://acme.example/spdx/intelgraph-api-0.1.0",
        "creationInfo": {"created": "2025-03-01T12:00:00Z", "creators": ["Tool: syft-1.18.0"]},
        "packages": [
            {"name": "ghcr.io/acme/intelgraph-api", "SPDXID": "SPDXRef-image", "versionInfo": f"sha256:{digest_hex}",
             "downloadLocation": "NOASSERTION", "filesAnalyzed": False,
             "checksums": [{"algorithm": "SHA256", "checksumValue": digest_hex}]},
            {"name": "openssl", "SPDXID": "SPDXRef-openssl", "versionInfo": "3.0.1", "downloadLocation": "NOASSERTION",
             "filesAnalyzed": False}],
        "relationships": [{"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES",
                           "relatedSpdxElement": "SPDXRef-image"}],
    }


def grype_report(digest: str, findings: list[tuple[str, str, str, str]]) -> dict[str, Any]:
    """`grype IMAGE -o json`: matches with vulnerability id and severity, the artefact, and the source image."""
    return {
        "matches": [{"vulnerability": {"id": vid, "dataSource": f"https://nvd.nist.gov/vuln/detail/{vid}",
                                       "namespace": "debian:distro:debian:12", "severity": severity,
                                       "fix": {"versions": [], "state": "unknown"}},
                     "relatedVulnerabilities": [],
                     "artifact": {"name": name, "version": version, "type": "deb"}}
                    for vid, severity, name, version in findings],
        "source": {"type": "image", "target": {"userInput": "ghcr.io/acme/intelgraph-api:0.1.0",
                                               "imageID": "sha256:" + "c" * 64, "manifestDigest": digest,
                                               "repoDigests": [f"ghcr.io/acme/intelgraph-api@{digest}"]}},
        "descriptor": {"name": "grype", "version": "0.86.1"},
    }


def trivy_report(digest: str, findings: list[tuple[str, str, str, str]]) -> dict[str, Any]:
    """`trivy image -f json`: results per target with their vulnerabilities, and the image's repo digests."""
    return {
        "SchemaVersion": 2, "ArtifactName": "ghcr.io/acme/intelgraph-api:0.1.0", "ArtifactType": "container_image",
        "Metadata": {"ImageID": "sha256:" + "c" * 64, "RepoDigests": [f"ghcr.io/acme/intelgraph-api@{digest}"]},
        "Results": [{"Target": "ghcr.io/acme/intelgraph-api:0.1.0 (debian 12.8)", "Class": "os-pkgs", "Type": "debian",
                     "Vulnerabilities": [{"VulnerabilityID": vid, "PkgName": name, "InstalledVersion": version,
                                          "Severity": severity.upper(), "Title": f"{name}: {vid}"}
                                         for vid, severity, name, version in findings]}],
    }


def osv_report(findings: list[tuple[str, str, str, str, str]]) -> dict[str, Any]:
    """`osv-scanner --format json`: packages of a lock file, each with its vulnerabilities and groups
    (``max_severity`` is the group's highest CVSS score). Findings: (id, alias, cvss score, package, version)."""
    packages = [{"package": {"name": name, "version": version, "ecosystem": "npm"},
                 "vulnerabilities": [{"id": vid, "aliases": [alias], "summary": f"{name} {vid}",
                                      "database_specific": {"severity": "HIGH"}}],
                 "groups": [{"ids": [vid], "aliases": [vid, alias], "max_severity": score}]}
                for vid, alias, score, name, version in findings]
    return {"results": [{"source": {"path": "/src/package-lock.json", "type": "lockfile"}, "packages": packages}]}


def dedent(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")
