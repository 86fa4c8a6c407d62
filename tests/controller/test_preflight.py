"""Before traffic moves, every place the release will write is tried: the evidence folder, each file
channel and the signing key's folder (or the key, which must be readable). Tests run as root, where
permissions do not stop writes, so the unwritable places here are paths under a regular file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from launchdeck.controller.preflight import require_writable, unwritable
from launchdeck.errors import UsageError
from launchdeck.plan.model import ReleaseSpec


def spec(evidence: dict[str, str] | None = None, **channels: str) -> ReleaseSpec:
    doc: dict[str, Any] = {"stages": [{"weight": "100%"}],
                           "notifications": {"channels": {n: {"type": "file", "path": p} for n, p in channels.items()}}}
    if evidence:
        doc["evidence"] = evidence
    return ReleaseSpec.model_validate(doc)


def test_writable_places_pass_and_nothing_is_left_behind(tmp_path: Path) -> None:
    assert unwritable(spec(log="out/log.jsonl"), workdir=tmp_path) == []
    assert list(tmp_path.iterdir()) == []  # the folders the run will make are not made by the check


def test_existing_channel_file_is_opened_but_not_changed(tmp_path: Path) -> None:
    (tmp_path / "log.jsonl").write_text("earlier line\n")
    assert unwritable(spec(log="log.jsonl"), workdir=tmp_path) == []
    assert (tmp_path / "log.jsonl").read_text() == "earlier line\n"


def test_evidence_folder_under_a_file_is_named_with_the_reason(tmp_path: Path) -> None:
    (tmp_path / "x").write_text("a file")
    problems = unwritable(spec({"dir": "x/evidence"}), workdir=tmp_path)
    assert problems == [f"evidence.dir {tmp_path / 'x/evidence'}: {tmp_path / 'x'} is a file, not a folder"]


def test_file_channel_and_key_folder_that_cannot_be_written_are_each_named(tmp_path: Path) -> None:
    (tmp_path / "x").write_text("a file")
    problems = unwritable(spec({"key": "x/keys/signing.key"}, log="x/log.jsonl", ok="log.jsonl"), workdir=tmp_path)
    assert [p.split(" ", 3)[:3] for p in problems] == [
        ["file", "channel", "'log'"], ["evidence.key", str(tmp_path / "x/keys/signing.key") + ":", "cannot"]]


def test_existing_key_must_be_readable(tmp_path: Path) -> None:
    (tmp_path / "keys" / "release-signing.key").mkdir(parents=True)  # a folder where the key should be
    problems = unwritable(spec(), workdir=tmp_path)
    assert len(problems) == 1 and problems[0].startswith("evidence.key") and "cannot read the signing key" in problems[0]


def test_proc_is_not_a_place_for_evidence() -> None:
    problems = unwritable(spec({"dir": "/proc/launchdeck-evidence"}), workdir=Path("."))
    assert len(problems) == 1 and problems[0].startswith("evidence.dir /proc/launchdeck-evidence: cannot write in /proc")


def test_run_is_refused_as_bad_input_naming_every_path_once(tmp_path: Path) -> None:
    (tmp_path / "x").write_text("a file")
    same = spec({"dir": "x/evidence"})
    with pytest.raises(UsageError) as e:
        require_writable(same, same, workdir=tmp_path)  # a train's services share their places
    assert e.value.exit_code == 2
    assert e.value.message.count("x is a file, not a folder") == 1
    assert "relative paths are read from the plan file's folder" in e.value.hint
