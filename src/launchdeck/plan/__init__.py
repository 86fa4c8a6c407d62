"""Plan files: YAML → typed, validated plans with every problem located; JSON Schema export."""

from launchdeck.plan.compile import to_policy
from launchdeck.plan.loader import LoadedPlan, json_schema, load_plan

__all__ = ["LoadedPlan", "json_schema", "load_plan", "to_policy"]
