"""`run` says where the release store is: the SQLite file's absolute path, or the URL without its password."""

from __future__ import annotations

from pathlib import Path

import pytest

from launchdeck.store.defaults import DEFAULT_URL
from launchdeck.store.repo import location


def test_default_store_is_the_file_in_the_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert location(DEFAULT_URL) == str(tmp_path / "launchdeck.db")


def test_absolute_sqlite_path_is_kept() -> None:
    assert location("sqlite:////var/lib/launchdeck/releases.db") == "/var/lib/launchdeck/releases.db"


def test_postgresql_url_is_said_without_its_password() -> None:
    said = location("postgresql+psycopg://deploy:s3cret-pw@db.internal:5432/releases")
    assert "s3cret-pw" not in said and said.startswith("postgresql+psycopg://deploy:***@db.internal")
