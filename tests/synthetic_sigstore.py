"""A Sigstore instance of the tests' own, entirely offline: a certificate authority (Fulcio's role), a
certificate transparency log and a transparency log (Rekor's role), each with a fresh key.

It signs an artefact digest the way `sigstore sign` does (a short-lived code-signing certificate for
an identity, with an embedded SCT; a hashedrekord entry with its inclusion proof, signed checkpoint and
signed entry timestamp) and writes the trusted root that vouches for it, so launchdeck's verification
runs through sigstore-python's real verifier, no step mocked. It also writes key-based bundles, as
`cosign sign-blob --key … --bundle` does. The formats are RFC 6962 (SCTs), the transparency-dev signed
note (checkpoints) and Sigstore's bundle v0.3 and trusted root v0.1.
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import rfc8785
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID, NameOID

SIGNED_AT = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
OIDC_ISSUER_OID = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.1")
LOG_ORIGIN = "log.synthetic.test"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def spki(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _der_octet_string(data: bytes) -> bytes:
    n = len(data)
    length = bytes([n]) if n < 0x80 else bytes([0x80 | ((n.bit_length() + 7) // 8)]) + n.to_bytes((n.bit_length() + 7) // 8, "big")
    return b"\x04" + length + data


@dataclass
class SyntheticSigstore:
    identity: str = "release-bot@example.com"
    issuer: str = "https://issuer.example.com"
    ca_key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    ct_key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    log_key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))

    def __post_init__(self) -> None:
        name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "launchdeck tests"),
                          x509.NameAttribute(NameOID.COMMON_NAME, "synthetic-fulcio")])
        self.ca_name = name
        public = self.ca_key.public_key()
        self.ca_cert = (
            x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(public).serial_number(1)
            .not_valid_before(SIGNED_AT - timedelta(days=30)).not_valid_after(SIGNED_AT + timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=None, decipher_only=None), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
            .sign(self.ca_key, hashes.SHA256()))
        self.log_id = hashlib.sha256(spki(self.log_key)).digest()

    # -- the trusted root ---------------------------------------------------------------------------
    def trusted_root(self) -> dict[str, Any]:
        def log(key: ec.EllipticCurvePrivateKey, url: str) -> dict[str, Any]:
            return {"baseUrl": url, "hashAlgorithm": "SHA2_256",
                    "publicKey": {"rawBytes": b64(spki(key)), "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                                  "validFor": {"start": "2024-01-01T00:00:00Z"}},
                    "logId": {"keyId": b64(hashlib.sha256(spki(key)).digest())}}

        return {"mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
                "tlogs": [log(self.log_key, f"https://{LOG_ORIGIN}")],
                "ctlogs": [log(self.ct_key, "https://ct.synthetic.test")],
                "certificateAuthorities": [{
                    "subject": {"organization": "launchdeck tests", "commonName": "synthetic-fulcio"},
                    "uri": "https://fulcio.synthetic.test",
                    "certChain": {"certificates": [{"rawBytes": b64(self.ca_cert.public_bytes(serialization.Encoding.DER))}]},
                    "validFor": {"start": "2024-01-01T00:00:00Z"}}],
                "timestampAuthorities": []}

    # -- signing ------------------------------------------------------------------------------------
    def sign(self, digest_hex: str, *, identity: str | None = None) -> dict[str, Any]:
        """A bundle (v0.3) whose certificate names ``identity`` and whose signature covers the digest."""
        key = ec.generate_private_key(ec.SECP256R1())
        cert = self._leaf(key, identity or self.identity)
        digest = bytes.fromhex(digest_hex)
        signature = key.sign(digest, ec.ECDSA(Prehashed(hashes.SHA256())))
        body = rfc8785.dumps({
            "apiVersion": "0.0.1", "kind": "hashedrekord",
            "spec": {"data": {"hash": {"algorithm": "sha256", "value": digest_hex}},
                     "signature": {"content": b64(signature),
                                   "publicKey": {"content": b64(cert.public_bytes(serialization.Encoding.PEM))}}}})
        integrated = int(SIGNED_AT.timestamp())
        leaf = hashlib.sha256(b"\x00" + body).digest()  # a log of one entry: its root is the leaf's hash
        note = f"{LOG_ORIGIN}\n1\n{b64(leaf)}\n"
        note_sig = self.log_key.sign(note.encode(), ec.ECDSA(hashes.SHA256()))
        checkpoint = f"{note}\n\u2014 {LOG_ORIGIN} {b64(self.log_id[:4] + note_sig)}\n"
        promise = rfc8785.dumps({"body": b64(body), "integratedTime": integrated, "logID": self.log_id.hex(),
                                 "logIndex": 0})
        return {
            "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
            "verificationMaterial": {
                "certificate": {"rawBytes": b64(cert.public_bytes(serialization.Encoding.DER))},
                "tlogEntries": [{
                    "logIndex": "0", "logId": {"keyId": b64(self.log_id)},
                    "kindVersion": {"kind": "hashedrekord", "version": "0.0.1"},
                    "integratedTime": str(integrated),
                    "inclusionPromise": {"signedEntryTimestamp": b64(self.log_key.sign(promise, ec.ECDSA(hashes.SHA256())))},
                    "inclusionProof": {"logIndex": "0", "rootHash": b64(leaf), "treeSize": "1", "hashes": [],
                                       "checkpoint": {"envelope": checkpoint}},
                    "canonicalizedBody": b64(body)}]},
            "messageSignature": {"messageDigest": {"algorithm": "SHA2_256", "digest": b64(digest)},
                                 "signature": b64(signature)},
        }

    def _leaf(self, key: ec.EllipticCurvePrivateKey, identity: str) -> x509.Certificate:
        san = x509.UniformResourceIdentifier(identity) if "://" in identity else x509.RFC822Name(identity)
        builder = (
            x509.CertificateBuilder().subject_name(x509.Name([])).issuer_name(self.ca_name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(SIGNED_AT - timedelta(minutes=1)).not_valid_after(SIGNED_AT + timedelta(minutes=10))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=None, decipher_only=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False)
            .add_extension(x509.SubjectAlternativeName([san]), critical=True)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.ca_key.public_key()), critical=False)
            .add_extension(x509.UnrecognizedExtension(OIDC_ISSUER_OID, self.issuer.encode()), critical=False))
        # RFC 6962: the CT log signs the precertificate's TBS (the certificate without its SCT list), bound to
        # the issuer's key; the SCT then goes into the certificate the CA issues.
        tbs = builder.sign(self.ca_key, hashes.SHA256()).tbs_certificate_bytes
        at_ms = int(SIGNED_AT.timestamp() * 1000)
        issuer_hash = hashlib.sha256(spki(self.ca_key)).digest()
        signed = (struct.pack("!BBQH", 0, 0, at_ms, 1) + issuer_hash + len(tbs).to_bytes(3, "big") + tbs
                  + struct.pack("!H", 0))
        sct_sig = self.ct_key.sign(signed, ec.ECDSA(hashes.SHA256()))
        sct = (b"\x00" + hashlib.sha256(spki(self.ct_key)).digest() + struct.pack("!QH", at_ms, 0)
               + struct.pack("!BBH", 4, 3, len(sct_sig)) + sct_sig)
        sct_list = struct.pack("!H", len(sct) + 2) + struct.pack("!H", len(sct)) + sct
        extension = x509.UnrecognizedExtension(ExtensionOID.PRECERT_SIGNED_CERTIFICATE_TIMESTAMPS,
                                               _der_octet_string(sct_list))
        return builder.add_extension(extension, critical=False).sign(self.ca_key, hashes.SHA256())


def key_bundle(key: ec.EllipticCurvePrivateKey, digest_hex: str) -> dict[str, Any]:
    """A bundle signed with a key pair, as `cosign sign-blob --key cosign.key --bundle` writes (no log entry)."""
    digest = bytes.fromhex(digest_hex)
    signature = key.sign(digest, ec.ECDSA(Prehashed(hashes.SHA256())))
    return {"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
            "verificationMaterial": {"publicKey": {"hint": b64(hashlib.sha256(spki(key)).digest())}, "tlogEntries": []},
            "messageSignature": {"messageDigest": {"algorithm": "SHA2_256", "digest": b64(digest)},
                                 "signature": b64(signature)}}


def dumps(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2)
