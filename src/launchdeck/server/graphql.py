"""``/graphql`` (Strawberry): the tenant's releases and their provenance, the same data as the REST answers.

    { release(name: "payments-v3") { phase weight why { seq kind rule verdict reason people { who role } } } }

The token is checked as for REST (no token: 401 problem document); every query sees only the token's
tenant, and a release of another tenant is null, like a missing one.
"""

from __future__ import annotations

from typing import Any

import strawberry
from fastapi.concurrency import run_in_threadpool
from strawberry.fastapi import GraphQLRouter
from strawberry.scalars import JSON
from strawberry.types import Info

from launchdeck.errors import NotFound
from launchdeck.server.auth import StoreDep, Viewer
from launchdeck.services import details
from launchdeck.services.reading import finite, status_object
from launchdeck.store.repo import Store, StoredRelease
from launchdeck.store.tokens import Token


@strawberry.type
class Person:
    who: str | None
    role: str | None


@strawberry.type(description="A decision with its provenance: rule, inputs, verdict, people.")
class Decision:
    seq: int
    plan_at: float
    wall_at: str
    kind: str
    gate: str | None
    reason: str
    rule: str
    verdict: str
    people: list[Person]
    inputs: JSON

    @classmethod
    def of(cls, d: dict[str, Any]) -> Decision:
        return cls(seq=d["seq"], plan_at=d["planAt"], wall_at=d["wallAt"], kind=d["kind"], gate=d["gate"],
                   reason=d["reason"], rule=d["rule"], verdict=d["verdict"],
                   people=[Person(who=p["who"], role=p["role"]) for p in d["people"]], inputs=finite(d["inputs"]))


@strawberry.type
class Gate:
    name: str
    metric: str | None
    threshold: str | None
    status: str
    verdict: str | None
    reason: str
    live: JSON


@strawberry.type
class Release:
    name: str
    id: int
    tenant: str
    phase: str | None
    stage: int
    weight: float
    outcome: str | None
    reason: str | None
    updated_at: str | None
    found: strawberry.Private[StoredRelease]

    @classmethod
    def of(cls, found: StoredRelease) -> Release:
        s = status_object(found)
        return cls(name=found.name, id=found.id, tenant=found.tenant, phase=s["phase"], stage=s["stage"],
                   weight=s["weight"], outcome=found.outcome, reason=s["reason"], updated_at=s["updatedAt"],
                   found=found)

    @strawberry.field(description="Every decision with its rule, inputs, verdict and people (evaluations with all).")
    async def why(self, info: Info, all: bool = False) -> list[Decision]:  # noqa: A002 - the REST query's name
        rows = await run_in_threadpool(details.why, _store(info), self.found, all_=all)
        return [Decision.of(d) for d in rows]

    @strawberry.field(description="Each gate: metric, threshold, live values and verdict at the last evaluation.")
    async def gates(self, info: Info) -> list[Gate]:
        rows = await run_in_threadpool(details.gates, _store(info), self.found)
        return [Gate(name=g["name"], metric=g["metric"], threshold=g["threshold"], status=g["status"],
                     verdict=g["verdict"], reason=g["reason"], live=finite(g["live"])) for g in rows]


@strawberry.type
class Query:
    @strawberry.field(description="The tenant's releases, newest first.")
    async def releases(self, info: Info, phase: str | None = None, outcome: str | None = None,
                       limit: int = 50) -> list[Release]:
        found, _ = await run_in_threadpool(lambda: details.releases(
            _store(info), tenant=_who(info).tenant, limit=max(1, min(limit, 500)), phase=phase, outcome=outcome))
        return [Release.of(f) for f in found]

    @strawberry.field(description="One release by name; null when the tenant has none of that name.")
    async def release(self, info: Info, name: str) -> Release | None:
        try:
            found = await run_in_threadpool(details.find, _store(info), name=name[:220], tenant=_who(info).tenant)
        except NotFound:
            return None
        return Release.of(found)


schema = strawberry.Schema(query=Query)


async def _context(who: Viewer, store: StoreDep) -> dict[str, Any]:
    return {"who": who, "store": store}


def router() -> GraphQLRouter[Any, Any]:
    return GraphQLRouter(schema, context_getter=_context, include_in_schema=False)


def _store(info: Info) -> Store:
    store: Store = info.context["store"]
    return store


def _who(info: Info) -> Token:
    who: Token = info.context["who"]
    return who

