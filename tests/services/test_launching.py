"""The canary line's plan: found by environment (and service), refused when it disagrees, given the line's
version and weights."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from slack_app import PLAN

from launchdeck.chat import grammar
from launchdeck.errors import NotFound, Refused, UsageError
from launchdeck.services import launching
from launchdeck.services import plans as plan_texts
from launchdeck.store.repo import Store

LINE = grammar.StartCanary("v0.1.0", "prod", "us-west-2", "US-only", (5, 25, 50, 100), "gateway-flag")


@pytest.fixture
def store(backend_db_url: str) -> Iterator[Store]:
    opened = Store(backend_db_url)
    plan_texts.register(opened, PLAN, tenant="intel", by="dana")
    yield opened
    opened.close()


def test_the_line_gets_the_prod_plan_with_its_version_and_weights(store: Store, tmp_path: Path) -> None:
    started = launching.start_canary(store, LINE, tenant="intel", person="dana", data_dir=tmp_path)
    assert started.name == "intelgraph-v0.1.0"
    plan = plan_texts.check(started.plan_text or "", tenant="intel").plan
    assert plan.doc.metadata.version == "v0.1.0"
    assert [s.weight for s in plan.doc.spec.stages] == [5, 25, 50, 100]
    assert [s.hold for s in plan.doc.spec.stages] == [1200.0] * 4  # the plan's holds are kept


def test_no_plan_for_the_environment_says_how_to_register_one(store: Store, tmp_path: Path) -> None:
    with pytest.raises(NotFound) as err:
        launching.start_canary(store, LINE.__class__(**{**LINE.__dict__, "environment": "staging"}),
                               tenant="intel", person="dana", data_dir=tmp_path)
    assert "no registered release plan for environment staging" in err.value.message
    assert "environment: staging" in err.value.hint


def test_two_services_with_a_prod_plan_need_the_line_to_name_one(store: Store, tmp_path: Path) -> None:
    other = PLAN.replace("intelgraph-v0.0.9", "gateway-v1").replace("service: intelgraph-api", "service: gateway")
    plan_texts.register(store, other, tenant="intel", by="dana")
    with pytest.raises(UsageError) as err:
        launching.start_canary(store, LINE, tenant="intel", person="dana", data_dir=tmp_path)
    assert "several registered plans are for environment prod" in err.value.message and "service:NAME" in err.value.hint
    named = LINE.__class__(**{**LINE.__dict__, "service": "gateway"})
    assert launching.start_canary(store, named, tenant="intel", person="dana", data_dir=tmp_path).name == \
        "gateway-v1-v0.1.0"


def test_a_different_number_of_steps_is_refused_and_nothing_starts(store: Store, tmp_path: Path) -> None:
    three = LINE.__class__(**{**LINE.__dict__, "steps": (10, 50, 100)})
    with pytest.raises(Refused) as err:
        launching.start_canary(store, three, tenant="intel", person="dana", data_dir=tmp_path)
    assert "steps: the plan has 4 stages (10/30/60/100), the line 3" in err.value.message
    assert store.find(name="intelgraph-v0.1.0") is None
