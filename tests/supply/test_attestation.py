"""In-toto attestations in DSSE envelopes signed by a key the plan trusts, and the SLSA provenance in them."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from supply_chain_files import BUILDER, DIGEST, ReleaseFiles

from launchdeck.errors import SupplyChainError
from launchdeck.plan.supply_model import AttestationSpec, ProvenanceSpec
from launchdeck.supply import attestation
from launchdeck.supply.artifact import Artifact

SPEC = AttestationSpec(envelope="provenance.intoto.jsonl", keys=["builder.pub"])
ALLOWED = ProvenanceSpec(builders=[BUILDER.split("@")[0]], sources=["git+https://github.com/acme/intelgraph"])


def test_an_envelope_signed_by_the_builder_for_the_artefact_verifies(files: ReleaseFiles) -> None:
    statement, (detail, data) = attestation.verify(SPEC, Artifact(DIGEST), files.folder)
    assert statement["predicateType"] == "https://slsa.dev/provenance/v1"
    assert "signed by the trusted key builder.pub" in detail and data["key"].startswith("sha256:")


def test_an_envelope_signed_by_another_key_is_refused(files: ReleaseFiles) -> None:
    forged = files.attestation(key=ed25519.Ed25519PrivateKey.generate())
    files.write_text("provenance.intoto.jsonl", json.dumps(forged) + "\n")
    with pytest.raises(SupplyChainError, match=r"not signed by a trusted key \(builder.pub\)"):
        attestation.verify(SPEC, Artifact(DIGEST), files.folder)


def test_an_envelope_about_another_artefact_is_refused(files: ReleaseFiles) -> None:
    files.write_text("provenance.intoto.jsonl", json.dumps(files.attestation(digest_hex="2" * 64)) + "\n")
    with pytest.raises(SupplyChainError, match=f"is about sha256:222222222222…, not the artefact {DIGEST}"):
        attestation.verify(SPEC, Artifact(DIGEST), files.folder)


def test_the_matching_envelope_among_json_lines_is_the_one_checked(files: ReleaseFiles) -> None:
    lines = [files.attestation(digest_hex="2" * 64), files.attestation()]
    files.write_text("provenance.intoto.jsonl", "\n".join(json.dumps(e) for e in lines) + "\n")
    statement, _ = attestation.verify(SPEC, Artifact(DIGEST), files.folder)
    assert statement["subject"][0]["digest"]["sha256"] == DIGEST.split(":")[1]


def test_provenance_from_an_allowed_builder_and_source_passes(files: ReleaseFiles) -> None:
    statement, _ = attestation.verify(SPEC, Artifact(DIGEST), files.folder)
    _, data = attestation.provenance(ALLOWED, statement)
    assert data["builder"] == BUILDER and data["source"].startswith("git+https://github.com/acme/intelgraph@")


def test_provenance_from_an_unknown_builder_or_source_is_refused(files: ReleaseFiles) -> None:
    files.write_text("provenance.intoto.jsonl", json.dumps(files.attestation(
        builder="https://ci.example.com/laptop", source="git+https://github.com/mallory/fork@refs/heads/main")))
    statement, _ = attestation.verify(SPEC, Artifact(DIGEST), files.folder)
    with pytest.raises(SupplyChainError) as caught:
        attestation.provenance(ALLOWED, statement)
    assert "builder https://ci.example.com/laptop is not one the plan allows" in caught.value.message
    assert "source git+https://github.com/mallory/fork@refs/heads/main is not one" in caught.value.message


def test_slsa_v0_2_provenance_names_its_builder_and_config_source() -> None:
    statement = {"predicateType": "https://slsa.dev/provenance/v0.2",
                 "predicate": {"builder": {"id": "https://github.com/acme/builder@v1"},
                               "invocation": {"configSource": {"uri": "git+https://github.com/acme/intelgraph@refs/tags/v0.1.0"}}}}
    allowed = ProvenanceSpec(builders=["https://github.com/acme/builder"], sources=["git+https://github.com/acme/*"])
    _, data = attestation.provenance(allowed, statement)
    assert data["source"] == "git+https://github.com/acme/intelgraph@refs/tags/v0.1.0"


def test_an_attestation_that_is_not_provenance_is_refused_as_provenance() -> None:
    with pytest.raises(SupplyChainError, match="not SLSA provenance"):
        attestation.provenance(ALLOWED, {"predicateType": "https://spdx.dev/Document", "predicate": {}})
