"""API tokens and registered plans in the store, on SQLite and PostgreSQL: only a token's hash is kept."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from launchdeck.errors import NotFound, UsageError
from launchdeck.store import plans, tokens
from launchdeck.store.repo import Store


def test_a_token_is_shown_once_and_only_its_hash_is_stored(store: Store) -> None:
    token, made = tokens.create(store, tenant="acme", person="sam", role="operator")
    assert token.startswith(f"ld_{made.prefix}_") and len(token) > 40
    with store.engine.connect() as conn:
        stored = " ".join(str(v) for row in conn.execute(text("SELECT * FROM api_tokens")) for v in row)
    assert token not in stored and tokens.digest(token) in stored
    who = tokens.authenticate(store, token)
    assert who is not None and (who.tenant, who.person, who.role) == ("acme", "sam", "operator")
    assert who.allows("viewer") and who.allows("operator") and not who.allows("admin")


def test_a_revoked_or_unknown_token_authenticates_nobody(store: Store) -> None:
    token, made = tokens.create(store, tenant="acme", person="sam", role="admin")
    assert tokens.authenticate(store, token + "x") is None
    assert tokens.revoke(store, made.prefix).revoked_at is not None
    assert tokens.authenticate(store, token) is None
    with pytest.raises(NotFound, match="no API token with prefix 'nope'"):
        tokens.revoke(store, "nope")


def test_a_role_or_name_launchdeck_does_not_take_is_refused(store: Store) -> None:
    with pytest.raises(UsageError, match="'root' is not an API role"):
        tokens.create(store, tenant="acme", person="sam", role="root")
    with pytest.raises(UsageError, match="tenant 'a b' is not a name"):
        tokens.create(store, tenant="a b", person="sam", role="viewer")


def test_registering_the_same_plan_text_again_keeps_one_version(store: Store) -> None:
    first, new = plans.register(store, tenant="acme", name="pay-v1", digest="sha256:a", text="a", by="sam")
    again, renewed = plans.register(store, tenant="acme", name="pay-v1", digest="sha256:a", text="a", by="lee")
    second, _ = plans.register(store, tenant="acme", name="pay-v1", digest="sha256:b", text="b", by="lee")
    assert (new, renewed) == (True, False) and again.registered_by == "sam"
    assert (first.version, second.version) == (1, 2)
    assert plans.latest(store, tenant="acme", name="pay-v1").text == "b"
    assert plans.latest(store, tenant="globex", name="pay-v1") is None
    assert [(p.name, p.version) for p in plans.plans(store, tenant="acme")] == [("pay-v1", 2)]
