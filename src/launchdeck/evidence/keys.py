"""Ed25519 signing keys for evidence bundles, kept as plain PEM files.

Keys live on disk as PEM so that operators can inspect, back up and distribute them with ordinary
tools; the public half sits next to the private one (``PATH.pub``) so that handing out the
verification key never means touching the secret. Every failure here becomes an ``EvidenceError``
that tells the user how to get a usable key instead of surfacing a library traceback.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from launchdeck.errors import EvidenceError

#: Suffix appended to the private key path to name the public key file.
PUBLIC_SUFFIX = ".pub"

_GENERATE_HINT = "run `launchdeck keys generate PATH`"


def public_path(private_path: Path) -> Path:
    """Name the public key file; appended rather than replacing a suffix so ``k.pem`` keeps it."""
    return private_path.with_name(private_path.name + PUBLIC_SUFFIX)


def public_pem(public_key: Ed25519PublicKey) -> str:
    """The one textual form of a public key, so bundles can compare embedded keys byte for byte."""
    return public_key.public_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PublicFormat.SubjectPublicKeyInfo,
    ).decode("ascii")


def key_id(public_key: Ed25519PublicKey) -> str:
    """Short, stable name for a key; hashes the raw bytes so it does not depend on PEM layout."""
    raw = public_key.public_bytes(
        encoding=serialization.Encoding.Raw,
        format=serialization.PublicFormat.Raw,
    )
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def generate(path: Path) -> Path:
    """Create a new key pair at ``path`` and ``path.pub``; return the public key path.

    Refuses to overwrite either file: losing a signing key silently would orphan every bundle
    signed with it.
    """
    path = Path(path)
    pub_path = public_path(path)
    for existing in (path, pub_path):
        if existing.exists():
            raise _refuse_overwrite(existing)
    private_key = Ed25519PrivateKey.generate()
    private_bytes = private_key.private_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=serialization.NoEncryption(),
    )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_private(path, private_bytes)
    except FileExistsError as e:
        raise _refuse_overwrite(path) from e
    except OSError as e:
        raise _write_error(path, e) from e
    try:
        with open(pub_path, "x", encoding="ascii") as handle:
            handle.write(public_pem(private_key.public_key()))
    except OSError as e:
        path.unlink(missing_ok=True)  # a private key without its public half would block a retry
        if isinstance(e, FileExistsError):
            raise _refuse_overwrite(pub_path) from e
        raise _write_error(pub_path, e) from e
    return pub_path


def _write_private(path: Path, data: bytes) -> None:
    """Create the file with mode 0600 from the first byte (``O_EXCL``): no window for readers."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)  # the umask can only narrow the mode, but say it explicitly
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    except OSError:
        os.close(fd)
        path.unlink(missing_ok=True)
        raise
    os.close(fd)


def _refuse_overwrite(path: Path) -> EvidenceError:
    return EvidenceError(
        f"refusing to overwrite existing key file {path}",
        hint="choose another PATH, or move the old key away first if you really mean to replace it",
        bad_input=True,
    )


def _write_error(path: Path, e: OSError) -> EvidenceError:
    return EvidenceError(
        f"cannot write key file {path}: {e.strerror or e}",
        hint="check that the directory is writable, or choose another PATH",
    )


def _read_key_file(path: Path, what: str) -> bytes:
    """Read a key file, turning every OS-level failure into one readable line."""
    try:
        return Path(path).read_bytes()
    except FileNotFoundError as e:
        raise EvidenceError(f"{what} not found: {path}", hint=_GENERATE_HINT, bad_input=True) from e
    except OSError as e:
        raise EvidenceError(
            f"cannot read {what} {path}: {e.strerror or e}",
            hint=f"check the path and its permissions, or {_GENERATE_HINT}",
        ) from e


def load_private(path: Path) -> Ed25519PrivateKey:
    """Load the signing key; anything but an unencrypted Ed25519 PKCS8 PEM is refused."""
    data = _read_key_file(path, "private key")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError as e:  # raised for encrypted keys when no password is given
        raise EvidenceError(
            f"private key {path} is encrypted; launchdeck needs an unencrypted key",
            hint=_GENERATE_HINT,
        ) from e
    except (ValueError, UnsupportedAlgorithm) as e:
        raise EvidenceError(f"{path} is not a PEM private key", hint=_GENERATE_HINT) from e
    if not isinstance(key, Ed25519PrivateKey):
        raise EvidenceError(
            f"private key {path} is a {type(key).__name__}, not an Ed25519 key",
            hint=_GENERATE_HINT,
        )
    return key


def load_public(path: Path) -> Ed25519PublicKey:
    """Load a verification key; anything but an Ed25519 SubjectPublicKeyInfo PEM is refused."""
    data = _read_key_file(path, "public key")
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm) as e:
        raise EvidenceError(
            f"{path} is not a PEM public key",
            hint=f"pass the {PUBLIC_SUFFIX} file written next to the private key, or {_GENERATE_HINT}",
        ) from e
    if not isinstance(key, Ed25519PublicKey):
        raise EvidenceError(
            f"public key {path} is a {type(key).__name__}, not an Ed25519 key",
            hint=_GENERATE_HINT,
        )
    return key
