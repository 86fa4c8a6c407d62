"""The approvals file (`run --approvals`): every entry meets the rule `approve` meets, and a file with
any refused entry is refused whole, every problem with its line, before anything is recorded."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from launchdeck.controller.people import (check_approvals_file, check_signoff, load_approvals_file, rules_stored,
                                         stored_rules)
from launchdeck.errors import UsageError
from launchdeck.plan import LoadedPlan, load_plan, model

PLAN = """
    apiVersion: launchdeck/v1
    kind: Release
    metadata: {name: payments-v3, service: payments, version: v3}
    spec:
      roles: {sre: [sam, lee], product-owner: [priya]}
      checklists: [{name: T-1h, due: -1h, signoff: [sre]}]
      stages: [{weight: 20%, hold: 1m, approve: [sre]}, {weight: 100%, hold: 1m}]
"""

TRAIN = """
    apiVersion: launchdeck/v1
    kind: ReleaseTrain
    metadata: {name: shop-v2, version: v2}
    spec:
      defaults:
        stages: [{weight: 20%, hold: 1m}, {weight: 100%, hold: 1m}]
      roles: {sre: [sam]}
      services:
        - {name: cart}
        - {name: search, after: [cart], stages: [{weight: 100%, hold: 1m}]}
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


@pytest.fixture
def plan(tmp_path: Path) -> LoadedPlan:
    return load_plan(write(tmp_path, "plan.yaml", PLAN))


def spec_of(plan: LoadedPlan) -> model.ReleaseSpec:
    assert isinstance(plan.doc, model.ReleaseDoc)
    return plan.doc.spec


def refusal_text(call: object) -> str:
    with pytest.raises(UsageError) as e:
        call()  # type: ignore[operator]
    return e.value.message


def test_entries_the_plan_allows_become_sign_offs(tmp_path: Path, plan: LoadedPlan) -> None:
    path = write(tmp_path, "approvals.yaml", """
        - {who: lee, role: sre, stage: 1, reason: dashboards green}
        - {who: sam, role: sre, checklist: T-1h}
    """)
    check_approvals_file(path, plan)
    assert load_approvals_file(path, spec_of(plan), "payments") == [
        {"who": "lee", "role": "sre", "stage": 1, "checklist": None, "decision": None, "reason": "dashboards green"},
        {"who": "sam", "role": "sre", "stage": None, "checklist": "T-1h", "decision": None, "reason": ""},
    ]


def test_every_refused_entry_is_named_with_its_line_at_once(tmp_path: Path, plan: LoadedPlan) -> None:
    path = write(tmp_path, "approvals.yaml", """
        - {who: lee, role: sre, stage: 1}
        - {who: mallory, role: sre, stage: 1}
        - {who: sam, role: qa, stage: 1}
        - {who: sam, role: sre, stage: 3}
        - {who: priya, role: product-owner, checklist: T-1h}
        - {who: sam, role: sre, stage: one, colour: red}
    """)
    text = refusal_text(lambda: check_approvals_file(path, plan))
    assert text.startswith(f"6 problems in the approvals file {path}; nothing was recorded")
    assert f"{path}:2: sign-off of stage 1 by mallory (sre): mallory is not in role 'sre' (members: lee, sam)" in text
    assert f"{path}:3: sign-off of stage 1 by sam (qa): the plan has no role 'qa'" in text
    assert f"{path}:4: sign-off of stage 3 by sam (sre): the plan has no stage 3 (stages: 1–2)" in text
    assert f"{path}:5: sign-off of checklist T-1h by priya (product-owner): checklist T-1h is not signed by role" in text
    assert f"{path}:6: unknown field 'colour'" in text and f"{path}:6: 'stage' should be a stage number" in text
    assert f"{path}:1" not in text
    # the runner's reading of the same file refuses it the same way
    assert refusal_text(lambda: load_approvals_file(path, spec_of(plan), "payments")) == text


def test_file_that_is_not_a_list_of_entries_is_refused(tmp_path: Path, plan: LoadedPlan) -> None:
    assert "an approvals file is a YAML list" in refusal_text(
        lambda: check_approvals_file(write(tmp_path, "a.yaml", "who: sam\n"), plan))
    assert "the file is empty" in refusal_text(lambda: check_approvals_file(write(tmp_path, "b.yaml", "# none\n"), plan))
    broken = refusal_text(lambda: check_approvals_file(write(tmp_path, "c.yaml", "- who: sam\n   role: sre\n"), plan))
    assert f"{tmp_path / 'c.yaml'}:2: not valid YAML" in broken
    assert "cannot read the approvals file" in refusal_text(lambda: check_approvals_file(tmp_path / "none.yaml", plan))


def test_release_leaves_out_entries_for_another_service(tmp_path: Path, plan: LoadedPlan) -> None:
    path = write(tmp_path, "approvals.yaml", """
        - {who: lee, role: sre, stage: 1, service: payments}
        - {who: nobody, role: dba, stage: 9, service: ledger}
    """)
    check_approvals_file(path, plan)
    assert [a["who"] for a in load_approvals_file(path, spec_of(plan), "payments")] == ["lee"]


def test_train_checks_each_entry_against_every_service_it_applies_to(tmp_path: Path) -> None:
    train = load_plan(write(tmp_path, "train.yaml", TRAIN))
    path = write(tmp_path, "approvals.yaml", """
        - {who: sam, role: sre, stage: 2}
        - {who: sam, role: sre, stage: 1, service: checkout}
        - {who: priya, role: sre, stage: 1}
    """)
    text = refusal_text(lambda: check_approvals_file(path, train))
    # search has one stage only: the refusal names it; priya is refused by every service, said once
    assert f"{path}:1: sign-off of stage 2 by sam (sre): the plan has no stage 2 (stages: 1–1) (service search)" in text
    assert f"{path}:2: the train has no service 'checkout'" in text
    assert text.count("priya is not in role 'sre'") == 1 and "(service" not in text.split(f"{path}:3:")[1]


def test_approve_checks_by_the_rules_the_release_recorded(plan: LoadedPlan) -> None:
    rules = rules_stored(stored_rules(spec_of(plan)))
    assert check_signoff(rules, who="sam", role="sre", stage=2) is None
    assert check_signoff(rules, who="sam", role="sre", stage=5) == "the plan has no stage 5 (stages: 1–2)"
    assert check_signoff(rules, who="sam", role="sre", checklist="T-2h") is not None
