"""Bad input and faults: Schemathesis sends every endpoint of /openapi.json malformed bodies, wrong types,
unknown names and boundary values; each answer must be documented (status, content type, schema) and
none a 5xx. Bounded to a few examples per operation, so it stays a few seconds."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from ld_server import Api
from schemathesis import checks
from schemathesis.generation import GenerationMode

CHECKS = [checks.not_a_server_error, checks.status_code_conformance, checks.content_type_conformance,
          checks.response_schema_conformance]
#: A stream follows a live release until it ends: it has its own test (test_events.py).
STREAMS = ("/api/v1/releases/{name}/events",)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["valid", "invalid"])
def test_no_request_makes_the_api_fail_or_answer_off_its_schema(api: Api, mode: GenerationMode) -> None:
    schema = schemathesis.openapi.from_url(f"{api.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 20
    for operation in operations:
        nothing_to_break = not (operation.path_parameters or operation.query or operation.body)
        if operation.path in STREAMS or (mode is GenerationMode.NEGATIVE and nothing_to_break):
            continue

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=4, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def answers_well(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=api.headers("sam"), checks=CHECKS)

        answers_well()
