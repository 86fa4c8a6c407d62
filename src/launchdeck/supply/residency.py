"""Data residency: the target's region and every data store the plan lists must lie in an allowed region
(``us-*`` allows every US region). Pure: it reads only the plan."""

from __future__ import annotations

from fnmatch import fnmatchcase

from launchdeck.errors import SupplyChainError
from launchdeck.plan.supply_model import ResidencySpec
from launchdeck.supply import Found


def check(spec: ResidencySpec) -> Found:
    places = [("the target", spec.region)] + [(f"data store {name}", region) for name, region in spec.data_stores.items()]
    outside = [f"{what} is in {region}" for what, region in places
               if not any(fnmatchcase(region, allowed) for allowed in spec.allowed)]
    allowed = ", ".join(spec.allowed)
    data = {"allowed": list(spec.allowed), "region": spec.region, "dataStores": dict(spec.data_stores)}
    if outside:
        raise SupplyChainError(f"residency: {'; '.join(outside)}, outside the allowed regions ({allowed})", data=data,
                               hint="deploy to an allowed region and keep every data store in one, or change "
                                    "residency.allowed if the data may leave (a decision for whoever owns it)")
    return f"residency: the target ({spec.region}) and {len(spec.data_stores)} data store(s) are within {allowed}", data
