"""Fixtures for the integration tests (helpers live in ld_integration.py).

Every test's CLI stores its releases on the backend LAUNCHDECK_TEST_BACKEND selects (see tests/conftest.py):
``cli_db_url`` is the test's own empty store, ``ld`` the CLI run in tmp_path against it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from ld_integration import Launchdeck, assert_store_isolated, launchdeck_in


@pytest.fixture
def cli_db_url(backend_db_url: str) -> Iterator[str]:
    """The test's own release store URL (SQLite in tmp_path, or a fresh PostgreSQL schema) for LAUNCHDECK_DB."""
    yield backend_db_url
    assert_store_isolated(backend_db_url)


@pytest.fixture
def ld(tmp_path: Path, cli_db_url: str) -> Iterator[Launchdeck]:
    with launchdeck_in(tmp_path, cli_db_url) as cli:
        yield cli
