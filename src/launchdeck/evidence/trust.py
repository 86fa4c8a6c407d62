"""Which signing keys the user trusts: a valid signature proves only that *some* key signed.

Anyone can make a key pair and re-sign a changed bundle, so `evidence verify` and `audit verify`
accept a signature only from a trusted key, taken from (first match wins):

* ``--key PUB`` (repeatable): exactly those keys, nothing else;
* otherwise the plan given with ``--plan`` (its ``evidence.trustedKeys``, paths relative to the plan
  file's directory) together with the user's trusted-keys file.

The plan is never taken from the bundle or the database being checked: those are what is on trial.

The user's file is ``$LAUNCHDECK_TRUSTED_KEYS`` or else ``$XDG_CONFIG_HOME/launchdeck/trusted-keys``
(``~/.config/launchdeck/trusted-keys``); ``LAUNCHDECK_TRUSTED_KEYS=`` (empty) means no such file. Each
entry is a path to a PEM public key (``~`` and paths relative to the file's directory allowed; a
path that no longer exists is skipped) or a PEM block written inline; ``#`` starts a comment.
``launchdeck run`` adds the public half of the key it signs with, inline, the first time: whoever holds
the private key can sign anything anyway, so trusting its public half on that machine opens nothing
new, and it makes checking one's own evidence work without flags.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from launchdeck.errors import EvidenceError
from launchdeck.evidence.keys import key_id, load_public, public_pem

TRUSTED_KEYS_ENV = "LAUNCHDECK_TRUSTED_KEYS"
_BEGIN, _END = "-----BEGIN PUBLIC KEY-----", "-----END PUBLIC KEY-----"


@dataclass(frozen=True)
class TrustedKeys:
    """Fingerprints (``sha256:<hex>`` of the raw public key) the user trusts, each with where it came from."""

    sources: dict[str, str] = field(default_factory=dict)
    only_given: bool = False
    """True when the keys came from ``--key``: then nothing else is trusted."""

    def trusts(self, fingerprint: str) -> bool:
        return fingerprint in self.sources

    def untrusted(self, fingerprint: str) -> str:
        """What to say about a valid signature by a key not in this set."""
        if self.only_given:
            return f"signature valid but by {fingerprint}, not by the key given with --key ({', '.join(self.sources)})"
        return f"signature valid but by an untrusted key {fingerprint}; trust it with --key PUB or evidence.trustedKeys"

    def hint(self) -> str:
        if self.only_given:
            return "the key passed with --key did not make this signature: check it is the right key"
        where = user_file()
        mine = f", or add its public key to {where} if it is yours" if where else ""
        return f"get the signer's public key from its owner and pass it with --key PUB{mine}"

    def describe(self) -> str:
        """Where the trusted keys came from, for the OK line."""
        return ", ".join(sorted(set(self.sources.values()))) or "no trusted keys"


def user_file() -> Path | None:
    """The user's trusted-keys file (it may not exist yet); None when LAUNCHDECK_TRUSTED_KEYS is empty."""
    value = os.environ.get(TRUSTED_KEYS_ENV)
    if value is not None:
        return Path(value).expanduser() if value.strip() else None
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "launchdeck" / "trusted-keys"


def gather(*, keys: list[Path], plan_keys: list[Path]) -> TrustedKeys:
    """The keys to check signatures against: ``keys`` (--key) alone when given, else the plan's
    ``evidence.trustedKeys`` (already resolved to paths) and the user's file."""
    if keys:
        return TrustedKeys({key_id(load_public(p)): f"--key {p}" for p in keys}, only_given=True)
    sources = {key_id(load_public(p)): "the plan's evidence.trustedKeys" for p in plan_keys}
    path = user_file()
    if path is not None:
        for fingerprint in read_file(path):
            sources.setdefault(fingerprint, str(path))
    return TrustedKeys(sources)


def read_file(path: Path) -> list[str]:
    """The fingerprints a trusted-keys file lists (none when it does not exist)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError) as e:
        raise EvidenceError(f"cannot read the trusted-keys file {path}: {e}",
                            hint=f"fix its permissions, or point {TRUSTED_KEYS_ENV} at another file") from e
    found: list[str] = []
    block: list[str] | None = None
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if block is not None and text == _BEGIN:
            block = [text]  # a block cut short (a process killed while adding it) is skipped, not an error
        elif block is not None:
            block.append(text)
            if text == _END:
                found.append(key_id(_parse_pem("\n".join(block) + "\n", path, number)))
                block = None
        elif not text or text.startswith("#"):
            continue
        elif text == _BEGIN:
            block = [text]
        else:
            key_path = (path.parent / Path(text).expanduser())
            if key_path.exists():
                found.append(key_id(load_public(key_path)))
    if block is not None:
        raise EvidenceError(f"{path}: a PEM block is not closed with {_END}",
                            hint="close it, or remove the incomplete entry")
    return found


def _parse_pem(text: str, path: Path, line: int) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(text.encode("ascii"))
    except (ValueError, UnsupportedAlgorithm, UnicodeEncodeError) as e:
        raise EvidenceError(f"{path}:{line}: not a PEM public key", hint="fix or remove that entry") from e
    if not isinstance(key, Ed25519PublicKey):
        raise EvidenceError(f"{path}:{line}: a {type(key).__name__}, not an Ed25519 key",
                            hint="fix or remove that entry")
    return key


def trust_own_key(public_key: Ed25519PublicKey, private_path: Path) -> str | None:
    """Add the key a run signs with to the user's file unless it is there; say so when it was added.
    A file that cannot be written does not stop the run: the note says what to do instead."""
    path = user_file()
    if path is None:
        return None
    fingerprint = key_id(public_key)
    try:
        if fingerprint in read_file(path):
            return None
        path.parent.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        entry = (f"# added by launchdeck run at {stamp}: the public half of {private_path.resolve()}\n"
                 f"{public_pem(public_key)}").encode()
        # One write on an O_APPEND descriptor: runs adding keys at once never interleave their lines.
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, entry)
        finally:
            os.close(fd)
    except (OSError, EvidenceError) as e:
        return (f"could not add the signing key {fingerprint} to the trusted keys in {path} ({e}); "
                f"verify this run's evidence with --key {private_path}.pub")
    return (f"the signing key {private_path} ({fingerprint}) is now trusted for `evidence verify` and "
            f"`audit verify` on this machine: added to {path}")
