"""A Sigstore bundle for the artefact, verified offline.

Two ways, as the plan says:

- ``trustedRoot`` (with ``identity`` and ``issuer``): sigstore-python's verifier with that trusted root
  and no network: the signing certificate chains to the root's CA and was logged in its certificate
  transparency log, the transparency-log entry's inclusion proof and signed checkpoint verify, the
  certificate names the expected identity and issuer, and the signature covers the artefact's digest.
- ``key``: a bundle signed with a key pair (``cosign sign-blob --key … --bundle``): the signature over
  the artefact's digest (or over the file's bytes, for Ed25519) is checked with that public key.
  sigstore-python verifies certificate bundles only, so this path is launchdeck's own, and the
  transparency-log entry of such a bundle is not checked (the evidence says so).
"""

from __future__ import annotations

import base64
import binascii
import json
from pathlib import Path
from typing import Any

from launchdeck.errors import SupplyChainError
from launchdeck.plan.supply_model import SigstoreSpec
from launchdeck.supply import Found, keys
from launchdeck.supply.artifact import Artifact, read_bytes

WHAT = "signature.sigstore.bundle"
SIGN_HINT = ("sign the artefact and keep the bundle: `cosign sign-blob --bundle FILE` or `python -m sigstore sign "
             "--bundle FILE`")


def verify(spec: SigstoreSpec, artifact: Artifact, workdir: Path) -> Found:
    path = workdir / spec.bundle
    raw = read_bytes(path, WHAT, missing=SIGN_HINT)
    if spec.trusted_root is not None:
        return _with_trusted_root(spec, raw, path, artifact, workdir / spec.trusted_root)
    assert spec.key is not None
    return _with_key(raw, path, artifact, workdir / spec.key)


def _with_trusted_root(spec: SigstoreSpec, raw: bytes, path: Path, artifact: Artifact, root_path: Path) -> Found:
    from sigstore.errors import Error as SigstoreError
    from sigstore.hashes import Hashed
    from sigstore.models import Bundle, TrustedRoot
    from sigstore.verify import Verifier
    from sigstore.verify.policy import Identity
    from sigstore_models.common.v1 import HashAlgorithm

    assert spec.identity and spec.issuer
    try:
        bundle = Bundle.from_json(raw)
    except (SigstoreError, ValueError) as e:
        raise SupplyChainError(f"{WHAT} {path} is not a Sigstore bundle: {_first_line(e)}", hint=SIGN_HINT) from e
    read_bytes(root_path, "signature.sigstore.trustedRoot")  # a missing root is said as such, not as a parse error
    try:
        root = TrustedRoot.from_file(str(root_path))
    except (SigstoreError, ValueError) as e:
        raise SupplyChainError(f"signature.sigstore.trustedRoot {root_path} is not a Sigstore trusted root: "
                               f"{_first_line(e)}", hint="give the trusted_root.json of the Sigstore instance that "
                               "signed (for the public one: `sigstore trust-root`, or the TUF repository's file)") from e
    hashed = Hashed(algorithm=HashAlgorithm.SHA2_256, digest=bytes.fromhex(artifact.hex))
    try:
        Verifier(trusted_root=root).verify_artifact(hashed, bundle, Identity(identity=spec.identity, issuer=spec.issuer))
    except SigstoreError as e:
        raise SupplyChainError(f"Sigstore bundle {path} does not verify for {artifact.digest}: {_first_line(e)}",
                               hint="sign this very artefact with the expected identity, or fix identity/issuer/"
                                    "trustedRoot in the plan") from e
    return (f"Sigstore bundle verified offline: {artifact.digest} signed by {spec.identity} ({spec.issuer}), "
            "logged in the trusted root's transparency log",
            {"bundle": str(path), "digest": artifact.digest, "mode": "trustedRoot", "identity": spec.identity,
             "issuer": spec.issuer, "trustedRoot": str(root_path)})


def _with_key(raw: bytes, path: Path, artifact: Artifact, key_path: Path) -> Found:
    key = keys.load(key_path, "signature.sigstore.key")
    document = _json(raw, path)
    signed = document.get("messageSignature")
    if not isinstance(signed, dict) or not isinstance(signed.get("signature"), str):
        kind = "a DSSE envelope" if "dsseEnvelope" in document else "no message signature"
        raise SupplyChainError(f"{WHAT} {path} holds {kind}; with `key` launchdeck checks a bundle's message "
                               "signature over the artefact", hint="sign the artefact itself (cosign sign-blob "
                               "--key … --bundle), or put an attestation under signature.attestation")
    named = _named_digest(signed.get("messageDigest"), path)
    if named is not None and named != artifact.hex:
        raise SupplyChainError(f"Sigstore bundle {path} signs sha256:{named}, not the artefact {artifact.digest}",
                               hint="use the bundle made for this artefact, or fix artifact.digest in the plan")
    signature = _b64(signed["signature"], path, "messageSignature.signature")
    message = None
    if keys.signs_whole_message(key):  # Ed25519 signs the bytes themselves, not a digest
        if artifact.path is None:
            raise SupplyChainError("an Ed25519 signature covers the artefact's bytes, and only its digest is known",
                                   hint="give artifact.file instead of artifact.digest, or sign with ECDSA P-256")
        message = read_bytes(artifact.path, "artifact.file", limit=1 << 30)
    if not keys.verifies(key, signature, message=message, digest=bytes.fromhex(artifact.hex)):
        raise SupplyChainError(f"Sigstore bundle {path}: the signature over {artifact.digest} does not verify with "
                               f"the key {key_path} ({keys.fingerprint(key)})",
                               hint="sign this very artefact with the key the plan trusts, or give that key's "
                                    "public half as signature.sigstore.key")
    return (f"Sigstore bundle verified offline with the key {key_path.name} ({keys.fingerprint(key)}): "
            f"{artifact.digest} (transparency log not checked with a key)",
            {"bundle": str(path), "digest": artifact.digest, "mode": "key", "key": keys.fingerprint(key),
             "transparencyLog": "not checked (key-based verification)"})


def _json(raw: bytes, path: Path) -> dict[str, Any]:
    try:
        document = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise SupplyChainError(f"{WHAT} {path} is not JSON: {e}", hint=SIGN_HINT) from e
    if not isinstance(document, dict):
        raise SupplyChainError(f"{WHAT} {path} is not a Sigstore bundle (not a JSON object)", hint=SIGN_HINT)
    return document


def _named_digest(value: Any, path: Path) -> str | None:
    if not isinstance(value, dict) or "digest" not in value:
        return None
    if value.get("algorithm", "SHA2_256") != "SHA2_256":
        raise SupplyChainError(f"{WHAT} {path} signs a {value.get('algorithm')} digest; launchdeck checks SHA2_256",
                               hint="sign with SHA-256 (cosign's default)")
    return _b64(str(value["digest"]), path, "messageDigest.digest").hex()


def _b64(text: str, path: Path, field: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as e:
        raise SupplyChainError(f"{WHAT} {path}: {field} is not base64", hint=SIGN_HINT) from e


def _first_line(e: Exception) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0][:300]
