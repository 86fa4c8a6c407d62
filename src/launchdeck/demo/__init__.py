"""The demo: the IntelGraph canary plan, as shipped, healthy (good) or turning bad two minutes in (bad)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import yaml

from launchdeck.plan import LoadedPlan, load_plan, yamlsrc


#: How each scenario is designed to end, and how that reads.
DESIGNED = {"bad": ("rolled_back", "rolled back"), "good": ("promoted", "promoted")}


def demonstrated(scenario: str, outcome: str | None) -> tuple[str, bool]:
    """Whether the demo showed what it sets out to (the bad canary rolled back, the good one promoted),
    and the line that says so. A bad canary promoted is the demo failing, not a success."""
    expected, words = DESIGNED[scenario]
    if outcome == expected:
        return f"demo: as designed, the {scenario} canary was {words}", True
    ended = (outcome or "without an outcome").replace("_", " ")
    return (f"demo: NOT as designed: the {scenario} canary should have been {words}, "
            f"but the release ended {ended}"), False


def demo_plan(scenario: str, workdir: Path) -> LoadedPlan:
    text = resources.files(__package__).joinpath("intelgraph-canary.yaml").read_text(encoding="utf-8")
    if scenario == "good":
        data = yaml.load(text, Loader=yamlsrc.PlanLoader)  # noqa: S506 - a safe loader
        data["spec"]["target"]["versions"]["canary"].pop("faults", None)
        text = "# launchdeck demo: the IntelGraph canary without its fault (healthy)\n" + yaml.safe_dump(
            data, sort_keys=False)
    path = workdir / f"intelgraph-canary-{scenario}.yaml"
    path.write_text(text, encoding="utf-8")
    return load_plan(path)
