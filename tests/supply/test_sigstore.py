"""Sigstore bundles verified offline: against a trusted root with sigstore-python's verifier (identity,
issuer, certificate chain, SCT, log inclusion proof and checkpoint all real), or with a public key."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from supply_chain_files import DIGEST, DIGEST_HEX, ReleaseFiles, pem
from synthetic_sigstore import SyntheticSigstore, key_bundle

from launchdeck.errors import SupplyChainError
from launchdeck.plan.supply_model import SigstoreSpec
from launchdeck.supply import sigstore
from launchdeck.supply.artifact import Artifact

ARTIFACT = Artifact(DIGEST)


def by_root(files: ReleaseFiles, **changes: str) -> SigstoreSpec:
    return SigstoreSpec.model_validate({"bundle": "image.sigstore.json", "trustedRoot": "trusted_root.json",
                                        "identity": files.sigstore.identity, "issuer": files.sigstore.issuer, **changes})


def by_key(bundle: str = "image.key.sigstore.json", key: str = "cosign.pub") -> SigstoreSpec:
    return SigstoreSpec.model_validate({"bundle": bundle, "key": key})


def test_a_bundle_from_the_trusted_instance_for_the_artefact_verifies(files: ReleaseFiles) -> None:
    detail, data = sigstore.verify(by_root(files), ARTIFACT, files.folder)
    assert f"{DIGEST} signed by release-bot@example.com" in detail
    assert data["mode"] == "trustedRoot"


def test_a_bundle_for_another_artefact_is_refused(files: ReleaseFiles) -> None:
    with pytest.raises(SupplyChainError, match="does not verify for sha256:0000.*digest mismatch"):
        sigstore.verify(by_root(files), Artifact("sha256:" + "0" * 64), files.folder)


def test_a_signer_other_than_the_plans_identity_is_refused(files: ReleaseFiles) -> None:
    files.write_json("image.sigstore.json", files.sigstore.sign(DIGEST_HEX, identity="mallory@example.com"))
    with pytest.raises(SupplyChainError, match="SANs do not match release-bot@example.com"):
        sigstore.verify(by_root(files), ARTIFACT, files.folder)


def test_a_bundle_from_an_instance_the_root_does_not_trust_is_refused(files: ReleaseFiles) -> None:
    files.write_json("image.sigstore.json", SyntheticSigstore().sign(DIGEST_HEX))
    with pytest.raises(SupplyChainError, match="does not verify"):
        sigstore.verify(by_root(files), ARTIFACT, files.folder)


def test_a_tampered_signature_is_refused(files: ReleaseFiles) -> None:
    bundle = json.loads((files.folder / "image.sigstore.json").read_text())
    raw = bytearray(base64.b64decode(bundle["messageSignature"]["signature"]))
    raw[-1] ^= 1
    bundle["messageSignature"]["signature"] = base64.b64encode(bytes(raw)).decode()
    files.write_json("image.sigstore.json", bundle)
    with pytest.raises(SupplyChainError, match="does not verify"):
        sigstore.verify(by_root(files), ARTIFACT, files.folder)


def test_a_file_that_is_not_a_bundle_says_so(files: ReleaseFiles) -> None:
    files.write_text("image.sigstore.json", "{\"hello\": 1}")
    with pytest.raises(SupplyChainError, match="is not a Sigstore bundle") as caught:
        sigstore.verify(by_root(files), ARTIFACT, files.folder)
    assert "sign-blob" in caught.value.hint


def test_a_key_signed_bundle_verifies_with_the_public_key(files: ReleaseFiles) -> None:
    detail, data = sigstore.verify(by_key(), ARTIFACT, files.folder)
    assert data["mode"] == "key" and data["key"].startswith("sha256:")
    assert "transparency log not checked" in detail


def test_a_key_signed_bundle_is_refused_with_another_key(files: ReleaseFiles) -> None:
    (files.folder / "other.pub").write_bytes(pem(ec.generate_private_key(ec.SECP256R1())))
    with pytest.raises(SupplyChainError, match="does not verify with the key"):
        sigstore.verify(by_key(key="other.pub"), ARTIFACT, files.folder)


def test_a_key_signed_bundle_for_another_digest_is_refused(files: ReleaseFiles, tmp_path: Path) -> None:
    files.write_json("other.sigstore.json", key_bundle(files.cosign_key, "1" * 64))
    with pytest.raises(SupplyChainError, match=f"signs sha256:1111.*not the artefact {DIGEST}"):
        sigstore.verify(by_key(bundle="other.sigstore.json"), ARTIFACT, files.folder)


def test_a_trusted_root_needs_the_identity_and_issuer() -> None:
    with pytest.raises(ValueError, match="identity"):
        SigstoreSpec.model_validate({"bundle": "b.json", "trustedRoot": "root.json"})
    with pytest.raises(ValueError, match="exactly one of"):
        SigstoreSpec.model_validate({"bundle": "b.json", "trustedRoot": "r.json", "key": "k.pub",
                                     "identity": "a", "issuer": "b"})
