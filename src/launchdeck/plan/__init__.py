"""Plan files: YAML → typed, validated plans with every problem located; JSON Schema export."""

from launchdeck.plan.compile import to_policy
from launchdeck.plan.loader import LoadedPlan, json_schema, load_plan, load_plan_text

__all__ = ["LoadedPlan", "json_schema", "load_plan", "load_plan_text", "to_policy"]
