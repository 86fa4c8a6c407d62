"""`validate PLAN` and `--version` answered before Typer says exactly what Typer's commands say.

Typer is reached with the same words by adding `--` (the end of options, which the quick path never
takes), so each case runs both ways in this process and compares exit status, stdout and stderr.
"""

from __future__ import annotations

import gc
import subprocess
import sys
from pathlib import Path

import pytest

from launchdeck import __version__
from launchdeck.cli import main, quick

EXAMPLES = Path(__file__).parents[2] / "examples"

#: A gate relative to the baseline judged by threshold on 2 rps: valid, with a warning on stderr.
NOISY = (EXAMPLES / "intelgraph-canary.yaml").read_text().replace("rps: 400", "rps: 2").replace(
    "  gates:\n",
    "  gates:\n    - {name: err-rel, metric: error_rate, op: '>', threshold: +50%, vs: baseline, for: 5m, test: threshold}\n")

INVALID = """\
apiVersion: launchdeck/v1
kind: Release
metadata: {name: two-mistakes}
spec:
  stages: [{weight: 10%, hold: 5 minutes}]
"""


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def plans(tmp_path: Path) -> dict[str, Path]:
    (tmp_path / "noisy.yaml").write_text(NOISY)
    (tmp_path / "invalid.yaml").write_text(INVALID)
    return {"example": EXAMPLES / "intelgraph-canary.yaml", "train": EXAMPLES / "media-gateway-train.yaml",
            "noisy": tmp_path / "noisy.yaml", "invalid": tmp_path / "invalid.yaml",
            "missing": tmp_path / "missing.yaml"}


@pytest.mark.parametrize("name", ["example", "train", "noisy", "invalid", "missing"])
def test_validate_prints_what_typers_validate_prints(capsys: pytest.CaptureFixture[str], plans: dict[str, Path],
                                                     name: str) -> None:
    plan = str(plans[name])
    assert quick.answer(["validate", plan]) is not None
    assert run(capsys, "validate", plan) == run(capsys, "validate", "--", plan)


def test_the_noisy_plan_is_valid_with_a_warning(capsys: pytest.CaptureFixture[str], plans: dict[str, Path]) -> None:
    code, out, err = run(capsys, "validate", str(plans["noisy"]))
    assert (code, out.count("valid release"), err.count("warning: gate 'err-rel'")) == (0, 1, 1)


def test_an_invalid_plan_is_reported_with_every_problem(capsys: pytest.CaptureFixture[str],
                                                        plans: dict[str, Path]) -> None:
    code, out, err = run(capsys, "validate", str(plans["invalid"]))
    assert (code, out) == (2, "")
    assert "'version' is required" in err and "'5 minutes' is not a duration" in err


@pytest.mark.parametrize("name", ["example", "invalid"])
def test_validate_gives_the_caller_its_garbage_collector_back(capsys: pytest.CaptureFixture[str],
                                                              plans: dict[str, Path], name: str) -> None:
    # quick.run pauses the collector while the command runs; a process that goes on needs it back.
    assert gc.isenabled()
    run(capsys, "validate", str(plans[name]))
    assert gc.isenabled()


def test_version_prints_what_typers_version_prints(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "--version") == run(capsys, "--version", "--") == (0, f"launchdeck {__version__}\n", "")


@pytest.mark.parametrize("argv", [[], ["validate"], ["validate", "--help"], ["validate", "-"], ["validate", "a", "b"],
                                  ["validate", "a", "--time-scale", "2"], ["validate", "--", "a"], ["--version", "--"],
                                  ["--help"], ["run", "a"]],
                         ids=lambda argv: " ".join(argv) or "nothing")
def test_every_other_form_goes_to_typer(argv: list[str]) -> None:
    assert quick.answer(argv) is None


def test_a_control_character_is_refused_by_the_quick_validate_with_its_line(tmp_path: Path) -> None:
    # A fresh process, as a user runs it.
    plan = tmp_path / "bell.yaml"
    plan.write_text(INVALID.replace("two-mistakes", "two\x07mistakes"))
    done = subprocess.run([sys.executable, "-m", "launchdeck", "validate", str(plan)], capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 2, done.stderr
    assert "character #x0007 is not allowed in YAML" in done.stderr and f"{plan}:3" in done.stderr, done.stderr
