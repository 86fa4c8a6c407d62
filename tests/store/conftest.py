"""Fixtures for the store tests: ``store`` opens the release store at ``db_url`` (SQLite and
PostgreSQL, see tests/conftest.py) and closes every store a test opened."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from launchdeck.store.repo import Store


@pytest.fixture
def open_store(db_url: str) -> Iterator[Callable[[], Store]]:
    opened: list[Store] = []

    def open_() -> Store:
        store = Store(db_url)
        opened.append(store)
        return store

    yield open_
    for store in opened:
        store.close()


@pytest.fixture
def store(open_store: Callable[[], Store]) -> Store:
    return open_store()
