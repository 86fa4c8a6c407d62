"""Residency: the target and every data store in an allowed region."""

from __future__ import annotations

import pytest

from launchdeck.errors import SupplyChainError
from launchdeck.plan.supply_model import ResidencySpec
from launchdeck.supply import residency

US_ONLY = ["us-*"]


def test_us_regions_pass_a_us_only_plan() -> None:
    detail, _ = residency.check(ResidencySpec(allowed=US_ONLY, region="us-west-2", data_stores={"db": "us-east-1"}))
    assert detail == "residency: the target (us-west-2) and 1 data store(s) are within us-*"


def test_a_data_store_outside_is_named() -> None:
    with pytest.raises(SupplyChainError, match="data store analytics is in eu-central-1, outside"):
        residency.check(ResidencySpec(allowed=US_ONLY, region="us-west-2",
                                      data_stores={"db": "us-east-1", "analytics": "eu-central-1"}))
