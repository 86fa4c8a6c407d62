"""Fixtures for the supply-chain tests: a release folder that passes every check (tests/supply_chain_files.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from supply_chain_files import ReleaseFiles


@pytest.fixture
def files(tmp_path: Path) -> ReleaseFiles:
    return ReleaseFiles(tmp_path)
