"""Behaviour of evidence signing keys: creation, safe storage, loading and clear failures."""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from launchdeck.errors import EvidenceError
from launchdeck.evidence import keys

GENERATE_HINT = "launchdeck keys generate PATH"


def test_generate_writes_a_matching_key_pair_and_returns_the_public_path(tmp_path: Path) -> None:
    private_path = tmp_path / "nested" / "dir" / "release.pem"

    pub_path = keys.generate(private_path)

    assert pub_path == tmp_path / "nested" / "dir" / "release.pem.pub"
    private_key = keys.load_private(private_path)
    public_key = keys.load_public(pub_path)
    assert isinstance(private_key, Ed25519PrivateKey)
    assert isinstance(public_key, Ed25519PublicKey)
    assert keys.key_id(private_key.public_key()) == keys.key_id(public_key)
    assert private_path.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    assert pub_path.read_text().startswith("-----BEGIN PUBLIC KEY-----")


def test_private_key_file_is_readable_only_by_its_owner(tmp_path: Path) -> None:
    private_path = tmp_path / "release.pem"
    keys.generate(private_path)

    assert stat.S_IMODE(private_path.stat().st_mode) == 0o600


def test_generate_refuses_to_overwrite_an_existing_private_key(tmp_path: Path) -> None:
    private_path = tmp_path / "release.pem"
    keys.generate(private_path)
    before = private_path.read_bytes()

    with pytest.raises(EvidenceError, match="refusing to overwrite") as info:
        keys.generate(private_path)

    assert info.value.hint
    assert private_path.read_bytes() == before


def test_generate_refuses_when_only_the_public_key_file_exists(tmp_path: Path) -> None:
    private_path = tmp_path / "release.pem"
    stray_public = tmp_path / "release.pem.pub"
    stray_public.write_text("someone else's key\n")

    with pytest.raises(EvidenceError, match="refusing to overwrite"):
        keys.generate(private_path)

    assert not private_path.exists()
    assert stray_public.read_text() == "someone else's key\n"


def test_key_id_is_the_sha256_of_the_raw_public_key_bytes() -> None:
    public_key = Ed25519PrivateKey.generate().public_key()
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    assert keys.key_id(public_key) == "sha256:" + hashlib.sha256(raw).hexdigest()
    assert len(raw) == 32


def test_missing_private_key_gives_an_evidence_error_with_a_hint(tmp_path: Path) -> None:
    with pytest.raises(EvidenceError, match="private key not found") as info:
        keys.load_private(tmp_path / "absent.pem")

    assert GENERATE_HINT in info.value.hint
    assert GENERATE_HINT in str(info.value)


def test_missing_public_key_gives_an_evidence_error_with_a_hint(tmp_path: Path) -> None:
    with pytest.raises(EvidenceError, match="public key not found") as info:
        keys.load_public(tmp_path / "absent.pem.pub")

    assert GENERATE_HINT in info.value.hint


def test_unreadable_key_path_gives_an_evidence_error_not_an_os_error(tmp_path: Path) -> None:
    a_directory = tmp_path / "not-a-file"
    a_directory.mkdir()

    with pytest.raises(EvidenceError, match="cannot read private key") as info:
        keys.load_private(a_directory)

    assert GENERATE_HINT in info.value.hint


def test_garbage_is_not_accepted_as_a_key(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("this is not a key\n")

    with pytest.raises(EvidenceError, match="not a PEM private key") as private_info:
        keys.load_private(garbage)
    with pytest.raises(EvidenceError, match="not a PEM public key") as public_info:
        keys.load_public(garbage)

    assert GENERATE_HINT in private_info.value.hint
    assert GENERATE_HINT in public_info.value.hint


def test_public_key_file_is_refused_where_a_private_key_is_needed(tmp_path: Path) -> None:
    pub_path = keys.generate(tmp_path / "release.pem")

    with pytest.raises(EvidenceError) as info:
        keys.load_private(pub_path)

    assert GENERATE_HINT in info.value.hint


def test_keys_of_another_algorithm_are_refused(tmp_path: Path) -> None:
    ec_key = ec.generate_private_key(ec.SECP256R1())
    private_path = tmp_path / "ec.pem"
    public_path = tmp_path / "ec.pem.pub"
    private_path.write_bytes(
        ec_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    public_path.write_bytes(
        ec_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )

    with pytest.raises(EvidenceError, match="not an Ed25519 key") as private_info:
        keys.load_private(private_path)
    with pytest.raises(EvidenceError, match="not an Ed25519 key") as public_info:
        keys.load_public(public_path)

    assert GENERATE_HINT in private_info.value.hint
    assert GENERATE_HINT in public_info.value.hint


def test_encrypted_private_key_is_refused_with_a_hint(tmp_path: Path) -> None:
    encrypted = tmp_path / "encrypted.pem"
    encrypted.write_bytes(
        Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        )
    )

    with pytest.raises(EvidenceError, match="encrypted") as info:
        keys.load_private(encrypted)

    assert GENERATE_HINT in info.value.hint
