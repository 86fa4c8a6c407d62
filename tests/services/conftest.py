from __future__ import annotations

from collections.abc import Iterator

import pytest

from launchdeck.store.repo import Store


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    """An empty store, once on SQLite and once on PostgreSQL."""
    with Store(db_url) as opened:
        yield opened
