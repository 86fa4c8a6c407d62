"""Signed checkpoints of the decision log: a head (count, last hash, outcome, phase) signed with the
release's evidence key, as transparency logs sign their tree heads.

The signature is Ed25519 over the DSSE pre-authentication encoding of the head's canonical JSON,
under its own payload type, so a head's signature can never be passed off as a bundle's or the
other way round. Opening a checkpoint checks the signature only; whether the key is one the user
trusts is for ``evidence.trust``.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from launchdeck.errors import EvidenceError
from launchdeck.evidence.bundle import pae
from launchdeck.evidence.keys import key_id, public_pem
from launchdeck.store.chain import HEAD_PAYLOAD_TYPE, Signature, canonical_payload


@dataclass(frozen=True)
class Checkpoint:
    """A head whose signature holds: what it says, and the fingerprint of the key that signed it."""

    head: dict[str, Any]
    key_id: str


def signer(private_key: Ed25519PrivateKey) -> Any:
    """The ``sign`` callback ``Store.record_head`` takes, for this key."""
    pem = public_pem(private_key.public_key())

    def sign(payload: str) -> Signature:
        sig = private_key.sign(pae(HEAD_PAYLOAD_TYPE, payload.encode("utf-8")))
        return Signature(sig=base64.b64encode(sig).decode("ascii"), public_key=pem)

    return sign


def embedded(*, payload: str, signature: str, public_key: str) -> dict[str, Any]:
    """A signed head as bundles carry it (``predicate.logHead``)."""
    return {"head": json.loads(payload), "signature": signature, "publicKey": public_key}


def open_embedded(document: Any) -> Checkpoint:
    """``open`` for a head taken out of a bundle's predicate."""
    if not isinstance(document, dict) or not isinstance(document.get("head"), dict):
        raise EvidenceError("the bundle's logHead is not a signed head",
                            hint="the bundle was not written by this launchdeck, or was changed")
    return open_checkpoint(payload=canonical_payload(document["head"]), signature=str(document.get("signature")),
                           public_key=str(document.get("publicKey")))


def open_checkpoint(*, payload: str, signature: str, public_key: str) -> Checkpoint:
    """The head, once its signature is checked against the key that claims to have made it."""
    try:
        key = serialization.load_pem_public_key(public_key.encode("utf-8"))
        sig = base64.b64decode(signature, validate=True)
        head = json.loads(payload)
    except (ValueError, UnsupportedAlgorithm, binascii.Error) as e:
        raise EvidenceError("a signed head is malformed (its key, signature or payload cannot be read)",
                            hint="the head was changed after it was signed") from e
    if not isinstance(key, Ed25519PublicKey) or not isinstance(head, dict) or canonical_payload(head) != payload:
        raise EvidenceError("a signed head is malformed", hint="the head was changed after it was signed")
    try:
        key.verify(sig, pae(HEAD_PAYLOAD_TYPE, payload.encode("utf-8")))
    except InvalidSignature as e:
        raise EvidenceError(f"the signed head at {head.get('signedAt')} does not match its signature",
                            hint="the head was changed after it was signed") from e
    return Checkpoint(head=head, key_id=key_id(key))
