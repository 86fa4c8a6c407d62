"""The demo: the IntelGraph canary plan, as shipped, healthy (good) or turning bad two minutes in (bad)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import yaml

from launchdeck.plan import LoadedPlan, load_plan, yamlsrc


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
