"""Signed evidence bundles: a DSSE envelope around an in-toto Statement v1.

DSSE and in-toto are used so that a bundle can be checked by standard supply-chain tooling, not
only by launchdeck. The envelope also embeds the signer's public key, so a bundle verifies on its
own; callers who know which key *should* have signed pass it as ``trusted_key``, because a
self-contained bundle only proves it was not changed, not who made it.

The file is written in one canonical JSON form and verification insists on exactly those bytes:
any edit at all, even whitespace or a character inside the embedded PEM, is reported rather than
quietly tolerated, so "verified" always means "this is the file as signed".
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from launchdeck.errors import EvidenceError
from launchdeck.evidence.keys import key_id, public_pem

PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://launchdeck.dev/evidence/release/v1"

_ENVELOPE_FIELDS = frozenset({"payloadType", "payload", "signatures", "publicKey"})
_SIGNATURE_FIELDS = frozenset({"keyid", "sig"})
_STATEMENT_FIELDS = frozenset({"_type", "subject", "predicateType", "predicate"})
_SUBJECT_FIELDS = frozenset({"name", "digest"})
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")

_TAMPERED_HINT = (
    "the bundle was changed after it was signed; do not trust it, and use the original file "
    "or write the bundle again from the release record"
)


@dataclass(frozen=True)
class VerifiedBundle:
    """What a bundle vouches for, returned only once every check has passed."""

    path: Path
    key_id: str
    subject_name: str
    subject_digest: str
    predicate: dict[str, Any]


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE pre-authentication encoding: binds the type to the body so neither can be swapped."""
    type_bytes = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(type_bytes), type_bytes, len(payload), payload)


def canonical_json(document: Any) -> str:
    """The single textual form of a bundle; verification compares the file against it."""
    return json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def write_bundle(
    path: Path,
    *,
    subject_name: str,
    subject_digest: str,
    predicate: dict[str, Any],
    private_key: Ed25519PrivateKey,
) -> Path:
    """Sign a statement about ``subject_name`` and write it atomically; return the path.

    Written through a temporary file and ``os.replace`` so a crash never leaves a half bundle
    that would later be reported as tampered.
    """
    path = Path(path)
    digest = subject_digest.lower()
    if not subject_name:
        raise EvidenceError("subject name is empty", hint="pass the name of the released artifact")
    if not isinstance(predicate, dict):
        raise EvidenceError(
            f"predicate is a {type(predicate).__name__}, not a dict",
            hint="pass the release evidence as a dict of JSON values",
        )
    if not _SHA256_HEX.fullmatch(digest):
        raise EvidenceError(
            f"subject digest {subject_digest!r} is not a sha256 hex digest",
            hint="pass the 64 hexadecimal characters of the artifact's sha256, without a prefix",
        )
    statement = {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": subject_name, "digest": {"sha256": digest}}],
        "predicateType": PREDICATE_TYPE,
        "predicate": predicate,
    }
    try:
        payload = json.dumps(
            statement, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        ).encode("utf-8")
    except (TypeError, ValueError) as e:
        raise EvidenceError(
            f"predicate cannot be written as JSON: {e}",
            hint="use only dicts, lists, strings, finite numbers, booleans and None in the predicate",
        ) from e
    public_key = private_key.public_key()
    envelope = {
        "payloadType": PAYLOAD_TYPE,
        "payload": base64.b64encode(payload).decode("ascii"),
        "signatures": [
            {
                "keyid": key_id(public_key),
                "sig": base64.b64encode(private_key.sign(pae(PAYLOAD_TYPE, payload))).decode("ascii"),
            }
        ],
        "publicKey": public_pem(public_key),
    }
    _write_atomically(path, canonical_json(envelope).encode("utf-8"))
    return path


def _write_atomically(path: Path, data: bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as e:
        raise EvidenceError(
            f"cannot write bundle {path}: {e.strerror or e}",
            hint="check that the directory is writable, or choose another path",
        ) from e
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, 0o644)  # evidence is meant to be shared; mkstemp makes it 0600
        os.replace(tmp_name, path)
    except OSError as e:
        Path(tmp_name).unlink(missing_ok=True)
        raise EvidenceError(
            f"cannot write bundle {path}: {e.strerror or e}",
            hint="check free space and permissions on the directory, or choose another path",
        ) from e


def verify_bundle(path: Path, trusted_key: Ed25519PublicKey | None = None) -> VerifiedBundle:
    """Check every byte of the bundle and return what it vouches for, or raise EvidenceError."""
    return _verify(Path(path), trusted_key)[0]


def read_statement(path: Path, trusted_key: Ed25519PublicKey | None = None) -> dict[str, Any]:
    """The whole in-toto statement, after full verification; unverified content is never returned."""
    return _verify(Path(path), trusted_key)[1]


def _fail(path: Path, what: str, hint: str = _TAMPERED_HINT, *, bad_input: bool = False) -> EvidenceError:
    return EvidenceError(f"evidence bundle {path}: {what}", hint=hint, bad_input=bad_input)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in JSON")


def _parse_json(path: Path, text: str, what: str) -> Any:
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as e:
        raise _fail(path, f"{what} is not valid JSON at line {e.lineno}, column {e.colno}: {e.msg}") from e
    except ValueError as e:
        raise _fail(path, f"{what} is not valid JSON: {e}") from e
    except RecursionError as e:
        raise _fail(path, f"{what} is nested too deeply to be a launchdeck bundle") from e


def _check_fields(path: Path, obj: Any, expected: frozenset[str], where: str) -> dict[str, Any]:
    """Demand exactly the expected fields, so nothing unsigned can ride along."""
    if not isinstance(obj, dict):
        raise _fail(path, f"{where} is not a JSON object")
    unexpected = sorted(set(obj) - expected)
    if unexpected:
        raise _fail(path, f"unexpected field {unexpected[0]!r} in {where}")
    missing = sorted(expected - set(obj))
    if missing:
        raise _fail(path, f"missing field {missing[0]!r} in {where}")
    return obj


def _string(path: Path, obj: dict[str, Any], name: str, where: str) -> str:
    value = obj[name]
    if not isinstance(value, str):
        raise _fail(path, f"field {name!r} in {where} is not a string")
    return value


def _b64decode(path: Path, text: str, what: str) -> bytes:
    """Strict base64: also rejects encodings that differ from ours only in ignored padding bits."""
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as e:
        raise _fail(path, f"{what} is not valid base64") from e
    if base64.b64encode(data).decode("ascii") != text:
        raise _fail(path, f"{what} is not in canonical base64 form")
    return data


def _verify(path: Path, trusted_key: Ed25519PublicKey | None) -> tuple[VerifiedBundle, dict[str, Any]]:
    # 1. Read and parse.
    try:
        raw = path.read_bytes()
    except FileNotFoundError as e:
        raise _fail(path, "file not found", hint="check the path to the bundle", bad_input=True) from e
    except OSError as e:
        raise _fail(path, f"cannot read: {e.strerror or e}", hint="check the path and its permissions", bad_input=True) from e
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise _fail(path, f"bundle is not valid UTF-8 at byte {e.start}") from e
    envelope = _parse_json(path, text, "bundle")
    if not isinstance(envelope, dict):
        raise _fail(path, "bundle is not a JSON object")

    # 2. The bytes must be exactly the canonical form: catches whitespace, escapes, key order.
    if canonical_json(envelope) != text:
        raise _fail(path, "bundle bytes differ from their canonical form: the file was edited after signing")

    # 3. Exactly the expected fields, with the expected types.
    _check_fields(path, envelope, _ENVELOPE_FIELDS, "the envelope")
    payload_type = _string(path, envelope, "payloadType", "the envelope")
    if payload_type != PAYLOAD_TYPE:
        raise _fail(path, f"payloadType is {payload_type!r}, expected {PAYLOAD_TYPE!r}")
    payload_b64 = _string(path, envelope, "payload", "the envelope")
    pem = _string(path, envelope, "publicKey", "the envelope")
    signatures = envelope["signatures"]
    if not isinstance(signatures, list) or len(signatures) != 1:
        raise _fail(path, "the envelope must hold exactly one signature")
    signature = _check_fields(path, signatures[0], _SIGNATURE_FIELDS, "the signature")
    sig_keyid = _string(path, signature, "keyid", "the signature")
    sig_b64 = _string(path, signature, "sig", "the signature")

    # 4. The embedded key, in its one PEM form, must be the one the signature names.
    try:
        public_key = serialization.load_pem_public_key(pem.encode("utf-8"))
    except (ValueError, UnsupportedAlgorithm) as e:
        raise _fail(path, "publicKey is not a PEM public key") from e
    if not isinstance(public_key, Ed25519PublicKey):
        raise _fail(path, f"publicKey is a {type(public_key).__name__}, not an Ed25519 key")
    if public_pem(public_key) != pem:
        raise _fail(path, "publicKey is not in canonical PEM form")
    embedded_id = key_id(public_key)
    if sig_keyid != embedded_id:
        raise _fail(path, "key id in signature does not match the embedded public key")
    if trusted_key is not None and key_id(trusted_key) != embedded_id:
        raise _fail(
            path,
            f"signed by a key other than the trusted one (signed by {embedded_id}, "
            f"trusted {key_id(trusted_key)})",
            hint="check that you passed the right public key; if you did, the bundle is not genuine",
        )

    # 5. The signature over the DSSE pre-authentication encoding.
    payload = _b64decode(path, payload_b64, "payload")
    sig = _b64decode(path, sig_b64, "signature")
    try:
        public_key.verify(sig, pae(payload_type, payload))
    except InvalidSignature as e:
        raise _fail(path, "signature does not match the payload") from e

    # 6. The signed statement itself.
    try:
        statement_text = payload.decode("utf-8")
    except UnicodeDecodeError as e:
        raise _fail(path, "payload is not valid UTF-8") from e
    statement = _check_fields(
        path, _parse_json(path, statement_text, "payload"), _STATEMENT_FIELDS, "the statement"
    )
    if statement["_type"] != STATEMENT_TYPE:
        raise _fail(path, f"statement _type is {statement['_type']!r}, expected {STATEMENT_TYPE!r}")
    if statement["predicateType"] != PREDICATE_TYPE:
        raise _fail(
            path, f"predicateType is {statement['predicateType']!r}, expected {PREDICATE_TYPE!r}"
        )
    subjects = statement["subject"]
    if not isinstance(subjects, list) or len(subjects) != 1:
        raise _fail(path, "the statement must name exactly one subject")
    subject = _check_fields(path, subjects[0], _SUBJECT_FIELDS, "the subject")
    name = _string(path, subject, "name", "the subject")
    digest = _check_fields(path, subject["digest"], frozenset({"sha256"}), "the subject digest")
    sha256 = _string(path, digest, "sha256", "the subject digest")
    if not _SHA256_HEX.fullmatch(sha256):
        raise _fail(path, "the subject digest is not a sha256 hex digest")
    predicate = statement["predicate"]
    if not isinstance(predicate, dict):
        raise _fail(path, "the predicate is not a JSON object")
    verified = VerifiedBundle(
        path=path, key_id=embedded_id, subject_name=name, subject_digest=sha256, predicate=predicate
    )
    return verified, statement
