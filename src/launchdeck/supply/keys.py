"""Public keys a plan trusts (PEM files) and signature checks with them: Ed25519, ECDSA, RSA.

A signature is checked over the message itself, or over its SHA-256 digest when only the digest is
known (an image's): ECDSA and RSA sign a digest; Ed25519 signs the whole message, so it needs the bytes.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from launchdeck.errors import SupplyChainError
from launchdeck.supply.artifact import read_bytes

PublicKey = ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey | rsa.RSAPublicKey


def load(path: Path, what: str) -> PublicKey:
    data = read_bytes(path, what, limit=1 << 20)
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm) as e:
        raise SupplyChainError(f"{what} {path} is not a PEM public key",
                               hint="give the public half (-----BEGIN PUBLIC KEY-----), e.g. cosign.pub") from e
    if not isinstance(key, ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
        raise SupplyChainError(f"{what} {path} is a {type(key).__name__}, not an Ed25519, ECDSA or RSA key",
                               hint="sign with Ed25519, ECDSA P-256 or RSA")
    return key


def fingerprint(key: PublicKey) -> str:
    """``sha256:`` of the key's DER SubjectPublicKeyInfo: how the evidence names the signer."""
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return "sha256:" + hashlib.sha256(der).hexdigest()


def signs_whole_message(key: PublicKey) -> bool:
    """Ed25519 signs the message itself: a digest alone cannot be checked with it."""
    return isinstance(key, ed25519.Ed25519PublicKey)


def verifies(key: PublicKey, signature: bytes, *, message: bytes | None = None, digest: bytes | None = None) -> bool:
    """Whether ``signature`` is ``key``'s over ``message``, or over the SHA-256 ``digest`` of a message."""
    sha = hashes.SHA384() if isinstance(key, ec.EllipticCurvePublicKey) and key.curve.key_size == 384 else hashes.SHA256()
    try:
        if isinstance(key, ed25519.Ed25519PublicKey):
            if message is None:
                return False
            key.verify(signature, message)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            algorithm = ec.ECDSA(sha if message is not None else Prehashed(hashes.SHA256()))
            key.verify(signature, message if message is not None else digest or b"", algorithm)
        else:
            data = message if message is not None else digest or b""
            hashing = sha if message is not None else Prehashed(hashes.SHA256())
            for pad in (padding.PKCS1v15(), padding.PSS(padding.MGF1(hashes.SHA256()), padding.PSS.AUTO)):
                try:
                    key.verify(signature, data, pad, hashing)
                    return True
                except InvalidSignature:
                    continue
            return False
    except InvalidSignature:
        return False
    return True
