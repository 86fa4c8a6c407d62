"""Behaviour of evidence bundles: they verify as written, and any change at all is caught."""

from __future__ import annotations

import base64
import json
import stat
import string
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from launchdeck.errors import EvidenceError
from launchdeck.evidence import bundle as evidence_bundle
from launchdeck.evidence import keys

DIGEST = "a3" * 32
PREDICATE: dict[str, Any] = {
    "release": "checkout-api 2.4.1",
    "plan": {"steps": [{"weight": 5}, {"weight": 25}, {"weight": 100}]},
    "signoffs": [{"who": "zoë@example.com", "decision": "approve"}],  # non-ASCII on purpose
    "verdict": "promoted",
    "error_rate": 0.0012,
}


@pytest.fixture()
def private_key(tmp_path: Path) -> Ed25519PrivateKey:
    key_path = tmp_path / "keys" / "release.pem"
    keys.generate(key_path)
    return keys.load_private(key_path)


@pytest.fixture()
def bundle_path(tmp_path: Path, private_key: Ed25519PrivateKey) -> Path:
    return evidence_bundle.write_bundle(
        tmp_path / "out" / "evidence.json",
        subject_name="checkout-api",
        subject_digest=DIGEST,
        predicate=PREDICATE,
        private_key=private_key,
    )


def independent_pae(payload_type: str, body: bytes) -> bytes:
    """PAE written out from the DSSE spec, deliberately not using launchdeck's implementation."""
    type_bytes = payload_type.encode("utf-8")
    return b" ".join(
        [b"DSSEv1", str(len(type_bytes)).encode(), type_bytes, str(len(body)).encode(), body]
    )


def sign_envelope(statement_bytes: bytes, private_key: Ed25519PrivateKey) -> dict[str, Any]:
    """Build a correctly signed envelope around arbitrary bytes, as a forger with a key could."""
    public_key = private_key.public_key()
    sig = private_key.sign(independent_pae(evidence_bundle.PAYLOAD_TYPE, statement_bytes))
    return {
        "payloadType": evidence_bundle.PAYLOAD_TYPE,
        "payload": base64.b64encode(statement_bytes).decode(),
        "signatures": [{"keyid": keys.key_id(public_key), "sig": base64.b64encode(sig).decode()}],
        "publicKey": keys.public_pem(public_key),
    }


def write_canonical(path: Path, envelope: dict[str, Any]) -> None:
    path.write_text(
        json.dumps(envelope, sort_keys=True, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )


def edit_envelope(path: Path, change: Any) -> None:
    """Apply ``change`` to the parsed envelope and write it back in canonical form."""
    envelope = json.loads(path.read_text(encoding="utf-8"))
    change(envelope)
    write_canonical(path, envelope)


def test_round_trip_verifies(bundle_path: Path, private_key: Ed25519PrivateKey) -> None:
    verified = evidence_bundle.verify_bundle(bundle_path)

    assert verified.path == bundle_path
    assert verified.key_id == keys.key_id(private_key.public_key())
    assert verified.subject_name == "checkout-api"
    assert verified.subject_digest == DIGEST
    assert verified.predicate == PREDICATE


def test_round_trip_verifies_against_the_trusted_key(
    bundle_path: Path, private_key: Ed25519PrivateKey
) -> None:
    verified = evidence_bundle.verify_bundle(bundle_path, trusted_key=private_key.public_key())

    assert verified.predicate == PREDICATE


def test_read_statement_returns_the_in_toto_statement(bundle_path: Path) -> None:
    statement = evidence_bundle.read_statement(bundle_path)

    assert statement == {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "checkout-api", "digest": {"sha256": DIGEST}}],
        "predicateType": "https://launchdeck.dev/evidence/release/v1",
        "predicate": PREDICATE,
    }


def test_bundle_is_written_as_canonical_json_with_a_trailing_newline(bundle_path: Path) -> None:
    text = bundle_path.read_text(encoding="utf-8")
    envelope = json.loads(text)

    assert text == json.dumps(envelope, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    assert set(envelope) == {"payloadType", "payload", "signatures", "publicKey"}
    assert envelope["payloadType"] == "application/vnd.in-toto+json"
    assert envelope["publicKey"].startswith("-----BEGIN PUBLIC KEY-----")


def test_writing_leaves_no_temporary_files_and_a_shareable_bundle(bundle_path: Path) -> None:
    assert [p.name for p in bundle_path.parent.iterdir()] == ["evidence.json"]
    assert stat.S_IMODE(bundle_path.stat().st_mode) == 0o644


def test_signature_matches_an_independently_computed_pae(tmp_path: Path, bundle_path: Path) -> None:
    envelope = json.loads(bundle_path.read_text(encoding="utf-8"))
    body = base64.b64decode(envelope["payload"])
    sig = base64.b64decode(envelope["signatures"][0]["sig"])
    expected_message = independent_pae("application/vnd.in-toto+json", body)
    public_key = keys.load_public(tmp_path / "keys" / "release.pem.pub")

    # Raises InvalidSignature if launchdeck signed anything but the spec's PAE.
    public_key.verify(sig, expected_message)
    assert expected_message.startswith(b"DSSEv1 28 application/vnd.in-toto+json ")
    assert len(body) != len(body.decode("utf-8")), "lengths must count bytes, not characters"
    assert evidence_bundle.pae("application/vnd.in-toto+json", body) == expected_message


def test_one_character_change_anywhere_fails_verification(bundle_path: Path) -> None:
    original = bundle_path.read_text(encoding="utf-8")
    assert original.isascii()
    pem_start = original.index("-----BEGIN PUBLIC KEY-----")
    pem_end = original.index("-----END PUBLIC KEY-----") + len("-----END PUBLIC KEY-----")
    whitespace = [i for i, ch in enumerate(original) if ch in " \n"]

    positions = set(range(0, len(original), max(1, len(original) // 120)))
    positions |= set(range(pem_start, pem_end, max(1, (pem_end - pem_start) // 50)))
    positions |= set(whitespace[:: max(1, len(whitespace) // 40)])
    positions |= {0, len(original) - 1, pem_start, pem_end - 1}
    assert len(positions) >= 180

    replacements = string.ascii_letters + string.digits + string.punctuation + " "
    survivors = []
    for n, i in enumerate(sorted(positions)):
        new_char = replacements[(n * 7) % len(replacements)]
        if new_char == original[i]:
            new_char = replacements[(n * 7 + 1) % len(replacements)]
        bundle_path.write_text(original[:i] + new_char + original[i + 1 :], encoding="utf-8")
        try:
            evidence_bundle.verify_bundle(bundle_path)
        except EvidenceError:
            continue
        survivors.append((i, original[i], new_char))

    assert survivors == [], f"edits that still verified (position, was, now): {survivors}"
    bundle_path.write_text(original, encoding="utf-8")
    evidence_bundle.verify_bundle(bundle_path)


def test_reindenting_the_file_is_reported_as_an_edit(bundle_path: Path) -> None:
    envelope = json.loads(bundle_path.read_text(encoding="utf-8"))
    bundle_path.write_text(json.dumps(envelope, sort_keys=True, indent=4) + "\n", encoding="utf-8")

    with pytest.raises(EvidenceError, match="differ from their canonical form") as info:
        evidence_bundle.verify_bundle(bundle_path)

    assert info.value.hint


def test_tampered_predicate_resigned_with_another_key_fails_against_the_trusted_key(
    bundle_path: Path, private_key: Ed25519PrivateKey
) -> None:
    statement = evidence_bundle.read_statement(bundle_path)
    statement["predicate"]["verdict"] = "rolled back"
    forger = Ed25519PrivateKey.generate()
    write_canonical(bundle_path, sign_envelope(json.dumps(statement).encode(), forger))

    # On its own the forgery is self-consistent; only the trusted key exposes it.
    assert evidence_bundle.verify_bundle(bundle_path).predicate["verdict"] == "rolled back"
    with pytest.raises(EvidenceError, match="signed by a key other than the trusted one") as info:
        evidence_bundle.verify_bundle(bundle_path, trusted_key=private_key.public_key())

    assert info.value.hint


def test_payload_swapped_under_the_original_signature_fails(bundle_path: Path) -> None:
    statement = evidence_bundle.read_statement(bundle_path)
    statement["predicate"]["verdict"] = "rolled back"
    body = json.dumps(statement).encode()
    edit_envelope(bundle_path, lambda e: e.update(payload=base64.b64encode(body).decode()))

    with pytest.raises(EvidenceError, match="signature does not match the payload"):
        evidence_bundle.verify_bundle(bundle_path)


def test_invalid_json_names_the_line(bundle_path: Path) -> None:
    lines = bundle_path.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[2] = lines[2].replace(":", "", 1)
    bundle_path.write_text("".join(lines), encoding="utf-8")

    with pytest.raises(EvidenceError, match="not valid JSON at line 3"):
        evidence_bundle.verify_bundle(bundle_path)


def test_unexpected_field_is_named(bundle_path: Path) -> None:
    edit_envelope(bundle_path, lambda e: e.update(x="extra"))

    with pytest.raises(EvidenceError, match="unexpected field 'x'"):
        evidence_bundle.verify_bundle(bundle_path)


def test_missing_field_is_named(bundle_path: Path) -> None:
    edit_envelope(bundle_path, lambda e: e.pop("publicKey"))

    with pytest.raises(EvidenceError, match="missing field 'publicKey'"):
        evidence_bundle.verify_bundle(bundle_path)


def test_wrong_payload_type_is_named(bundle_path: Path) -> None:
    edit_envelope(bundle_path, lambda e: e.update(payloadType="application/json"))

    with pytest.raises(EvidenceError, match="payloadType is 'application/json'"):
        evidence_bundle.verify_bundle(bundle_path)


def test_payload_that_is_not_base64_is_named(bundle_path: Path) -> None:
    edit_envelope(bundle_path, lambda e: e.update(payload="not base64!"))

    with pytest.raises(EvidenceError, match="payload is not valid base64"):
        evidence_bundle.verify_bundle(bundle_path)


def test_signature_with_altered_padding_bits_is_refused(bundle_path: Path) -> None:
    def nudge_unused_bits(envelope: dict[str, Any]) -> None:
        sig = envelope["signatures"][0]["sig"]
        alphabet = string.ascii_uppercase + string.ascii_lowercase + string.digits + "+/"
        last = alphabet.index(sig[-3])  # 64 bytes -> "...X==": X carries 4 ignored bits
        envelope["signatures"][0]["sig"] = sig[:-3] + alphabet[last ^ 0b0001] + "=="

    edit_envelope(bundle_path, nudge_unused_bits)

    with pytest.raises(EvidenceError, match="signature is not in canonical base64 form"):
        evidence_bundle.verify_bundle(bundle_path)


def test_key_id_not_matching_the_embedded_key_is_named(bundle_path: Path) -> None:
    other_id = keys.key_id(Ed25519PrivateKey.generate().public_key())
    edit_envelope(bundle_path, lambda e: e["signatures"][0].update(keyid=other_id))

    with pytest.raises(EvidenceError, match="key id in signature does not match the embedded"):
        evidence_bundle.verify_bundle(bundle_path)


def test_embedded_key_swapped_for_another_fails(bundle_path: Path) -> None:
    other = Ed25519PrivateKey.generate().public_key()

    def swap_key(envelope: dict[str, Any]) -> None:
        envelope["publicKey"] = keys.public_pem(other)
        envelope["signatures"][0]["keyid"] = keys.key_id(other)

    edit_envelope(bundle_path, swap_key)

    with pytest.raises(EvidenceError, match="signature does not match the payload"):
        evidence_bundle.verify_bundle(bundle_path)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("_type", "https://in-toto.io/Statement/v0.1", "statement _type is"),
        ("predicateType", "https://slsa.dev/provenance/v1", "predicateType is"),
    ],
)
def test_signed_statement_of_the_wrong_kind_is_refused(
    tmp_path: Path, private_key: Ed25519PrivateKey, field: str, value: str, message: str
) -> None:
    statement = {
        "_type": evidence_bundle.STATEMENT_TYPE,
        "subject": [{"name": "checkout-api", "digest": {"sha256": DIGEST}}],
        "predicateType": evidence_bundle.PREDICATE_TYPE,
        "predicate": {},
        field: value,
    }
    path = tmp_path / "wrong-kind.json"
    write_canonical(path, sign_envelope(json.dumps(statement).encode(), private_key))

    with pytest.raises(EvidenceError, match=message):
        evidence_bundle.verify_bundle(path)


def test_missing_bundle_gives_an_evidence_error(tmp_path: Path) -> None:
    with pytest.raises(EvidenceError, match="file not found") as info:
        evidence_bundle.verify_bundle(tmp_path / "nope.json")

    assert info.value.hint


@pytest.mark.parametrize("digest", ["abc", "sha256:" + DIGEST, "g" * 64])
def test_write_refuses_a_subject_digest_that_is_not_sha256_hex(
    tmp_path: Path, private_key: Ed25519PrivateKey, digest: str
) -> None:
    with pytest.raises(EvidenceError, match="not a sha256 hex digest") as info:
        evidence_bundle.write_bundle(
            tmp_path / "b.json",
            subject_name="x",
            subject_digest=digest,
            predicate={},
            private_key=private_key,
        )

    assert info.value.hint
    assert not (tmp_path / "b.json").exists()


def test_write_refuses_a_predicate_that_is_not_json(
    tmp_path: Path, private_key: Ed25519PrivateKey
) -> None:
    with pytest.raises(EvidenceError, match="cannot be written as JSON") as info:
        evidence_bundle.write_bundle(
            tmp_path / "b.json",
            subject_name="x",
            subject_digest=DIGEST,
            predicate={"when": {1, 2}},
            private_key=private_key,
        )

    assert info.value.hint
    assert list(tmp_path.glob("*b.json*")) == []
