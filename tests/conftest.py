"""Suite-wide rules: in CI (CI=true) a skipped test fails the run — a skip there is a broken promise."""

from __future__ import annotations

import os

import pytest


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None or os.environ.get("CI", "").lower() not in ("1", "true", "yes"):
        return
    skipped = reporter.stats.get("skipped", [])
    if skipped and exitstatus == 0:
        reporter.write_line(f"CI: {len(skipped)} test(s) skipped; CI requires every test to run", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
