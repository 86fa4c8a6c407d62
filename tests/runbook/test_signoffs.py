"""One rule for every sign-off, whatever records it: the plan's people, roles, stages and checklists."""

from __future__ import annotations

from launchdeck.runbook.signoffs import SignoffRules, refusal

RULES = SignoffRules(roles={"sre": {"sam", "lee"}, "product-owner": {"priya"}},
                     checklists={"T-1h": ("sre", "product-owner")}, stages=2)


def test_person_in_the_role_signs_a_stage_the_plan_has() -> None:
    assert refusal(RULES, who="sam", role="sre", stage=2) is None


def test_person_outside_the_role_is_refused_and_told_who_may_sign() -> None:
    assert refusal(RULES, who="priya", role="sre", stage=1) == "priya is not in role 'sre' (members: lee, sam)"


def test_role_the_plan_does_not_have_is_refused_naming_the_roles() -> None:
    assert refusal(RULES, who="sam", role="qa", stage=1) == "the plan has no role 'qa' (roles: product-owner, sre)"


def test_stage_beyond_the_plan_is_refused() -> None:
    assert refusal(RULES, who="sam", role="sre", stage=3) == "the plan has no stage 3 (stages: 1–2)"
    assert refusal(RULES, who="sam", role="sre", stage=0) is not None


def test_stage_is_not_judged_when_the_number_of_stages_is_unknown() -> None:
    older = SignoffRules(roles=RULES.roles, checklists=RULES.checklists, stages=None)
    assert refusal(older, who="sam", role="sre", stage=7) is None


def test_checklist_the_plan_does_not_have_is_refused_naming_its_checklists() -> None:
    assert refusal(RULES, who="sam", role="sre", checklist="T-2h") == \
        "the plan has no checklist 'T-2h' (checklists: T-1h)"


def test_checklist_is_signed_only_by_the_roles_it_lists() -> None:
    narrow = SignoffRules(roles=RULES.roles, checklists={"T-1h": ("sre",)}, stages=2)
    why = refusal(narrow, who="priya", role="product-owner", checklist="T-1h")
    assert why == "checklist T-1h is not signed by role 'product-owner' (it needs: sre)"
    assert refusal(narrow, who="lee", role="sre", checklist="T-1h") is None


def test_unknown_decision_is_refused_and_known_ones_pass() -> None:
    assert "decisions: rollback, continue, go, no-go" in (refusal(RULES, who="sam", role="sre", decision="maybe") or "")
    assert all(refusal(RULES, who="sam", role="sre", decision=d) is None for d in ("rollback", "continue", "no-go"))


def test_a_sign_off_names_exactly_one_thing() -> None:
    assert refusal(RULES, who="sam", role="sre") is not None
    assert refusal(RULES, who="sam", role="sre", stage=1, checklist="T-1h") is not None
