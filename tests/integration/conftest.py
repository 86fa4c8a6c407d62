"""Fixtures for the integration tests (helpers live in ld_integration.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from ld_integration import Launchdeck


@pytest.fixture
def ld(tmp_path: Path) -> Iterator[Launchdeck]:
    cli = Launchdeck(tmp_path)
    yield cli
    for bg in cli.background:
        if bg.running():
            bg.kill()
        bg._close()
