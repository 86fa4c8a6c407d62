"""The plan model: section defaults are what validating an empty section gives, and importing the model
compiles no validator (the plan's one validator is built when a plan is first checked)."""

from __future__ import annotations

import subprocess
import sys

import pydantic
import pytest

from launchdeck.plan import model


def _section_defaults() -> list[tuple[str, pydantic.BaseModel]]:
    found = []
    for cls in vars(model).values():
        if isinstance(cls, type) and issubclass(cls, pydantic.BaseModel):
            for name, field in cls.model_fields.items():
                if isinstance(field.default, pydantic.BaseModel):
                    found.append((f"{cls.__name__}.{name}", field.default))
    return found


@pytest.mark.parametrize(("where", "default"), _section_defaults(), ids=lambda v: v if isinstance(v, str) else "")
def test_section_default_equals_validated_section(where: str, default: pydantic.BaseModel) -> None:
    validated = type(default).model_validate(default.model_dump(by_alias=True, exclude_unset=True))
    assert default == validated, where
    assert default.model_fields_set == validated.model_fields_set, where


def test_defaults_cover_the_sections_a_short_plan_leaves_out() -> None:
    assert {w for w, _ in _section_defaults()} >= {"ReleaseSpec.target", "ReleaseSpec.analysis",
                                                   "TargetSpec.versions", "VersionSpec.latency"}


def test_importing_the_model_compiles_no_validator() -> None:
    probe = ("import pydantic, sys; from launchdeck.plan import model; "
             "print(sorted(c.__name__ for c in vars(model).values() if isinstance(c, type) "
             "and issubclass(c, pydantic.BaseModel) and c.__pydantic_complete__))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60)
    assert done.stdout.strip() == "[]"
