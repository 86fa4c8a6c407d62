"""`evidence verify` accepts a signature only from a key the user trusts (evidence/trust.py): --key, the
plan's evidence.trustedKeys, or the user's trusted-keys file ($LAUNCHDECK_TRUSTED_KEYS here)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from launchdeck.cli import main
from launchdeck.errors import EvidenceError
from launchdeck.evidence import bundle as evidence_bundle
from launchdeck.evidence import keys, trust

PLAN = """\
apiVersion: launchdeck/v1
kind: Release
metadata: {name: checkout-v2, version: v2, previousVersion: v1}
spec:
  stages:
    - {weight: 100%, hold: 1m}
  evidence:
    trustedKeys: [KEY]
"""


@pytest.fixture
def trusted_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "config" / "trusted-keys"
    monkeypatch.setenv(trust.TRUSTED_KEYS_ENV, str(path))
    return path


@pytest.fixture
def signer(tmp_path: Path) -> Path:
    """The release's signing key (private path; the public half is at PATH.pub)."""
    path = tmp_path / "keys" / "release.key"
    keys.generate(path)
    return path


@pytest.fixture
def bundle(tmp_path: Path, signer: Path) -> Path:
    return evidence_bundle.write_bundle(tmp_path / "evidence" / "checkout-v2.bundle.json", subject_name="plan.yaml",
                                        subject_digest="ab" * 32, predicate={"release": "checkout-v2",
                                                                             "summary": {"outcome": "promoted"}},
                                        private_key=keys.load_private(signer))


def _verify(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    code = main(["evidence", "verify", *(str(a) for a in args)])
    out, err = capsys.readouterr()
    return code, out, err


def _resigned_by_a_stranger(path: Path) -> str:
    """The bundle's payload changed from promoted to rolled_back and signed with a freshly made key."""
    statement = evidence_bundle.read_statement(path)
    statement["predicate"]["summary"]["outcome"] = "rolled_back"
    payload = json.dumps(statement, sort_keys=True, separators=(",", ":")).encode()
    forger = Ed25519PrivateKey.generate()
    sig = forger.sign(evidence_bundle.pae(evidence_bundle.PAYLOAD_TYPE, payload))
    envelope = {"payloadType": evidence_bundle.PAYLOAD_TYPE, "payload": base64.b64encode(payload).decode(),
                "signatures": [{"keyid": keys.key_id(forger.public_key()), "sig": base64.b64encode(sig).decode()}],
                "publicKey": keys.public_pem(forger.public_key())}
    path.write_text(evidence_bundle.canonical_json(envelope), encoding="utf-8")
    return keys.key_id(forger.public_key())


def test_a_bundle_resigned_with_a_strangers_key_fails_without_key(capsys: pytest.CaptureFixture[str], bundle: Path,
                                                                  signer: Path, trusted_file: Path) -> None:
    trust.trust_own_key(keys.load_private(signer).public_key(), signer)
    assert _verify(capsys, bundle)[0] == 0
    forger = _resigned_by_a_stranger(bundle)
    code, out, err = _verify(capsys, bundle)
    assert code == 1 and "OK" not in out
    assert f"signature valid but by an untrusted key {forger}; trust it with --key PUB or evidence.trustedKeys" in err
    assert "Traceback" not in err


def test_a_valid_bundle_by_an_unknown_key_is_not_ok(capsys: pytest.CaptureFixture[str], bundle: Path, signer: Path,
                                                    trusted_file: Path) -> None:
    code, out, err = _verify(capsys, bundle)
    assert code == 1 and out == ""
    assert f"untrusted key {keys.key_id(keys.load_private(signer).public_key())}" in err
    assert f"add its public key to {trusted_file}" in err  # the hint says how to trust one's own key


def test_key_trusts_exactly_that_key(capsys: pytest.CaptureFixture[str], bundle: Path, signer: Path,
                                     trusted_file: Path, tmp_path: Path) -> None:
    code, out, _ = _verify(capsys, bundle, "--key", f"{signer}.pub")
    assert code == 0 and out.startswith(f"OK {bundle}: signed by sha256:") and f"(trusted: --key {signer}.pub)" in out
    keys.generate(tmp_path / "other.key")
    trust.trust_own_key(keys.load_private(signer).public_key(), signer)  # trusted by the file, but --key narrows
    code, _, err = _verify(capsys, bundle, "--key", tmp_path / "other.key.pub")
    assert code == 1 and "not by the key given with --key" in err


def test_the_plans_trusted_keys_are_trusted(capsys: pytest.CaptureFixture[str], bundle: Path, signer: Path,
                                            trusted_file: Path, tmp_path: Path) -> None:
    plan = tmp_path / "plans" / "checkout.yaml"
    plan.parent.mkdir()
    plan.write_text(PLAN.replace("KEY", "../keys/release.key.pub"), encoding="utf-8")  # relative to the plan's directory
    assert _verify(capsys, bundle)[0] == 1
    code, out, _ = _verify(capsys, bundle, "--plan", plan)
    assert code == 0 and "(trusted: the plan's evidence.trustedKeys)" in out


def test_the_users_file_trusts_keys_by_path_or_inline(capsys: pytest.CaptureFixture[str], bundle: Path, signer: Path,
                                                      trusted_file: Path) -> None:
    trusted_file.parent.mkdir(parents=True)
    trusted_file.write_text(f"# team keys\n\n{signer}.pub\n/no/longer/there.pub\n", encoding="utf-8")
    code, out, _ = _verify(capsys, bundle)
    assert code == 0 and f"(trusted: {trusted_file})" in out
    trusted_file.write_text("# pasted\n" + Path(f"{signer}.pub").read_text(encoding="utf-8"), encoding="utf-8")
    assert _verify(capsys, bundle)[0] == 0


def test_a_run_trusts_its_own_key_once_and_says_so(signer: Path, trusted_file: Path) -> None:
    public = keys.load_private(signer).public_key()
    said = trust.trust_own_key(public, signer)
    assert said is not None and keys.key_id(public) in said and str(trusted_file) in said
    assert trust.trust_own_key(public, signer) is None  # already trusted: nothing added, nothing said
    assert trust.read_file(trusted_file) == [keys.key_id(public)]


def test_a_trusted_keys_file_that_cannot_be_written_does_not_stop_a_run(signer: Path, tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("", encoding="utf-8")
    monkeypatch.setenv(trust.TRUSTED_KEYS_ENV, str(blocker / "trusted-keys"))
    said = trust.trust_own_key(keys.load_private(signer).public_key(), signer)
    assert said is not None and f"--key {signer}.pub" in said


def test_an_empty_variable_means_no_users_file(signer: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(trust.TRUSTED_KEYS_ENV, "")
    assert trust.user_file() is None
    assert trust.trust_own_key(keys.load_private(signer).public_key(), signer) is None


def test_a_broken_entry_is_named_with_its_line(trusted_file: Path) -> None:
    trusted_file.parent.mkdir(parents=True)
    trusted_file.write_text("# ok\n-----BEGIN PUBLIC KEY-----\nnot base64\n-----END PUBLIC KEY-----\n",
                            encoding="utf-8")
    with pytest.raises(EvidenceError, match=r"trusted-keys:4: not a PEM public key"):
        trust.read_file(trusted_file)


def test_an_entry_cut_short_is_skipped_when_a_whole_one_follows(signer: Path, trusted_file: Path) -> None:
    trusted_file.parent.mkdir(parents=True)
    pem = Path(f"{signer}.pub").read_text(encoding="utf-8")
    cut = "\n".join(pem.splitlines()[:2]) + "\n"
    trusted_file.write_text("# a run killed while adding its key\n" + cut + "# the next run's\n" + pem, encoding="utf-8")
    assert trust.read_file(trusted_file) == [keys.key_id(keys.load_private(signer).public_key())]
