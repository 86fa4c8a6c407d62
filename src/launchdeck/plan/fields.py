"""The plan model's building blocks: unit-parsed field types and the base model every section shares.

Kept apart from ``model.py`` so that sections defined in their own modules (the supply chain, command
hooks, load tests) use the same types without importing the whole plan model.
"""

from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, WithJsonSchema
from pydantic.alias_generators import to_camel

from launchdeck.plan import units

_DURATION_SCHEMA = {"type": ["string", "number"], "pattern": r"^\d+(\.\d+)?(ms|s|m|h|d)$",
                    "description": "plan time: 30s, 5m, 1h, 24h, 7d"}
_RATIO_SCHEMA = {"type": ["string", "number"], "pattern": r"^\d+(\.\d+)?%$",
                 "description": "a fraction: 2%, 0.1%, 99.9% or 0.02"}
_LATENCY_SCHEMA = {"type": ["string", "number"], "pattern": r"^\d+(\.\d+)?(ms|s)$",
                   "description": "a latency: 120ms or 1.2s"}

Duration = Annotated[float, BeforeValidator(units.parse_duration), WithJsonSchema(_DURATION_SCHEMA)]
SignedDuration = Annotated[
    float, BeforeValidator(units.parse_signed_duration),
    WithJsonSchema({**_DURATION_SCHEMA, "pattern": r"^[+-]?\d+(\.\d+)?(ms|s|m|h|d)$"}),
]
Ratio = Annotated[float, BeforeValidator(units.parse_ratio), WithJsonSchema(_RATIO_SCHEMA)]
Weight = Annotated[float, BeforeValidator(units.parse_weight), WithJsonSchema(_RATIO_SCHEMA)]
Rate = Annotated[float, BeforeValidator(units.parse_rate),
                 WithJsonSchema({"type": ["string", "number"], "pattern": r"^\d+(\.\d+)?/(s|m|h)$",
                                 "description": "occurrences per second of plan time: 5/s, 30/m, 2/h"})]
LatencyMs = Annotated[float, BeforeValidator(units.parse_latency_ms), WithJsonSchema(_LATENCY_SCHEMA)]
ThresholdText = Annotated[
    str, BeforeValidator(lambda v: v if isinstance(v, str) else repr(v) if isinstance(v, bool) else str(v)),
    WithJsonSchema({"type": ["string", "number"],
                    "description": "absolute (2%, 350ms, 0.5) or relative to `vs` (+20%, -10%)"}),
]
Op = Literal[">", ">=", "<", "<="]
Severity = Literal["immediate", "urgent", "conditional"]
Method = Literal["threshold", "sequential", "mann-whitney"]
Event = Literal[
    "release.started", "preflight.failed", "approval.requested", "approval.granted",
    "stage.started", "stage.passed", "gate.fired", "decision.requested", "hold.started",
    "rollback.started", "rollback.completed", "release.completed", "status.cadence",
    "checkpoint.passed", "checkpoint.failed", "escalation", "incident.opened", "incident.resolved",
]
RollbackStep = Literal["kill-switch", "traffic-to-stable", "drain-canary", "verify", "announce"]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, alias_generator=to_camel,
                              populate_by_name=True, defer_build=True)
