"""`launchdeck demo` (what `./dev demo` runs) succeeds when it demonstrates: the bad canary is rolled
back, exit 0, and where its evidence is is said once."""

from __future__ import annotations

import pytest
from ld_integration import Launchdeck

pytestmark = pytest.mark.integration


def test_demo_of_the_bad_canary_exits_zero_when_it_is_rolled_back(ld: Launchdeck) -> None:
    result = ld("demo", "--dir", "demo")
    assert result.returncode == 0, result.explain()
    assert "intelgraph-v0.1.0: rolled_back at canary weight 0%" in result.stdout
    assert "demo: as designed, the bad canary was rolled back" in result.stdout
    evidence = [line for line in result.stdout.splitlines() if line.startswith("evidence:")]
    assert len(evidence) == 1 and evidence[0].startswith("evidence: demo/evidence/intelgraph-v0.1.0.run"), evidence
    assert (ld.cwd / evidence[0].removeprefix("evidence: ")).is_file()


def test_a_same_age_baseline_without_a_stack_is_refused_with_the_way_to_get_one(ld: Launchdeck) -> None:
    result = ld("demo", "--baseline", "same-age", "--dir", "demo")
    assert result.returncode == 2, result.explain()
    assert "--baseline same-age needs --stack haproxy|nginx" in result.stderr
    assert "examples/same-age-baseline.yaml" in result.stderr and "Traceback" not in result.stderr
