"""The API under test: ``api`` is the real app (``create_app``) on a fresh store, served by uvicorn on a
loopback port (real HTTP), with tokens for two tenants (see ld_server.PEOPLE). Its server
runs no worker: a release started here stays as submitted, so what the tests see is only what they did.
One server serves the whole session; each test names its own releases. Its store is on the backend
LAUNCHDECK_TEST_BACKEND selects (tests/conftest.py): SQLite by default, or PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
import httpx
from ld_server import Api, Serving, make_tokens

from launchdeck.server.app import create_app
from launchdeck.store.repo import Store


@pytest.fixture(scope="session")
def api(tmp_path_factory: pytest.TempPathFactory,
        new_store_url: Callable[[Path], AbstractContextManager[str]]) -> Iterator[Api]:
    root = tmp_path_factory.mktemp("api")
    with new_store_url(root) as url:
        app = create_app(url, embedded_worker=False, data_dir=root / "data")
        with Serving(app) as served, httpx.Client(base_url=served.url, timeout=30) as client:
            store: Store = app.state.store
            yield Api(client, store, root, make_tokens(store))
