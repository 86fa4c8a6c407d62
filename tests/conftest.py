"""Suite-wide rules: in CI (CI=true) a skipped test fails the run — a skip there is a broken promise."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None or os.environ.get("CI", "").lower() not in ("1", "true", "yes"):
        return
    skipped = reporter.stats.get("skipped", [])
    if skipped and exitstatus == 0:
        reporter.write_line(f"CI: {len(skipped)} test(s) skipped; CI requires every test to run", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


# -- running in parallel: `./dev test` runs pytest-xdist workers (`--dist worksteal`) ----------------------
#
# Most of the suite's time is CLI runs playing plans in wall time, so a few workers share the two cores
# well. Each worker has its own PostgreSQL database (postgres_test_database), its own tmp_path and
# trusted-keys file, and every server a test starts takes a free port: nothing is shared between them.
# worksteal hands each worker a contiguous block (a module's tests, and its module-scoped fixture, stay
# together) and lets an idle worker take half of a busy one's queue.


# A test marked `alone` measures wall-clock latency between versions (the judges on the local fleet), or
# judges latency for long stretches of wall time: beside another worker's fleets, a loaded machine makes
# both versions slow for a while and hides or invents the difference it measures, or breaches a limit. Every test holds the machine shared while it runs (setup, which starts any
# module-scoped fleet, to teardown); an `alone` test holds it exclusively, so the other worker waits.
# Two flocks make a turnstile: a waiting `alone` test holds the gate, so shared holders queue behind it
# instead of starving it. A worker keeps the machine from one `alone` test to the next in its queue, so
# the other worker's tests do not wedge themselves in between.


class _MachineShare:
    """This worker's hold on the machine: nothing, shared, or exclusive."""

    def __init__(self, lock_dir: Path) -> None:
        self.gate = (lock_dir / "machine.gate").open("a")
        self.room = (lock_dir / "machine.room").open("a")
        self.held: int | None = None

    def hold(self, mode: int) -> None:
        if self.held == mode:
            return
        self.release()
        fcntl.flock(self.gate, fcntl.LOCK_EX)
        try:
            fcntl.flock(self.room, mode)
        finally:
            fcntl.flock(self.gate, fcntl.LOCK_UN)
        self.held = mode

    def release(self) -> None:
        if self.held is not None:
            fcntl.flock(self.room, fcntl.LOCK_UN)
            self.held = None

    def close(self) -> None:
        self.release()
        self.gate.close()
        self.room.close()


def _alone(item: pytest.Item | None) -> bool:
    return item is not None and item.get_closest_marker("alone") is not None


@pytest.hookimpl(hookwrapper=True, tryfirst=True)  # outside pytest-timeout's clock: waiting is not running
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    if os.environ.get("PYTEST_XDIST_WORKER") is None:  # one process: nothing runs beside the test
        yield
        return
    share = item.config.stash.get(_SHARE, None)
    if share is None:  # xdist gives each worker `--basetemp <the run's basetemp>/<worker>`: the parent is shared
        share = item.config.stash[_SHARE] = _MachineShare(Path(item.config.option.basetemp).parent)
    share.hold(fcntl.LOCK_EX if _alone(item) else fcntl.LOCK_SH)
    try:
        yield
    finally:
        if not (_alone(item) and _alone(nextitem)):
            share.release()


_SHARE = pytest.StashKey[_MachineShare]()


def pytest_unconfigure(config: pytest.Config) -> None:
    share = config.stash.get(_SHARE, None)
    if share is not None:
        share.close()


@pytest.hookimpl(tryfirst=True)  # before -m selects on the mark
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the tests that store releases on the selected backend (`-m "integration and releases"`: the
    tests CI runs again with every release in PostgreSQL), and put the `alone` tests last: a worker then
    reaches them when the other is done, or is itself running them, and neither idles long waiting."""
    for item in items:
        if "store_backend" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.releases)
    items.sort(key=_alone)


@pytest.fixture(scope="session", autouse=True)
def trusted_keys_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """`launchdeck run` adds its signing key to the user's trusted-keys file: the suite's runs (in-process
    and the CLI subprocesses, which inherit the environment) use a file of the session's, never ~/.config."""
    path = tmp_path_factory.mktemp("trust") / "trusted-keys"
    before = os.environ.get("LAUNCHDECK_TRUSTED_KEYS")
    os.environ["LAUNCHDECK_TRUSTED_KEYS"] = str(path)
    yield path
    if before is None:
        os.environ.pop("LAUNCHDECK_TRUSTED_KEYS", None)
    else:
        os.environ["LAUNCHDECK_TRUSTED_KEYS"] = before


# -- the release store's database: SQLite always, PostgreSQL when LAUNCHDECK_TEST_DB names a server --------
#
#   LAUNCHDECK_TEST_DB=postgresql+psycopg://postgres@127.0.0.1:5432/test ./dev test
#
# The URL is only the way in: the suite creates its own database (launchdeck_test_<random>) there,
# gives every test a fresh schema in it (search_path), and drops the database at the end. In CI
# (CI=true) a missing LAUNCHDECK_TEST_DB fails the PostgreSQL tests instead of skipping them.

TEST_DB_ENV = "LAUNCHDECK_TEST_DB"


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="session")
def postgres_test_database() -> Iterator[str]:
    """URL of a PostgreSQL database made for this test session (dropped at its end)."""
    import secrets

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    server = os.environ.get(TEST_DB_ENV, "")
    if not server:
        message = (f"{TEST_DB_ENV} is not set, so the store is not tested on PostgreSQL; set it to a server the "
                   f"tests may create a database on, e.g. {TEST_DB_ENV}=postgresql+psycopg://postgres@127.0.0.1:5432/test")
        if _in_ci():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    url = make_url(server)
    name = f"launchdeck_test_{secrets.token_hex(6)}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    problem = ""
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as e:  # noqa: BLE001 - say which variable to fix, without the password
        problem = " ".join(str(getattr(e, "orig", None) or e).split())
    if problem:
        admin.dispose()
        pytest.fail(f"{TEST_DB_ENV}={url.render_as_string(hide_password=True)}: cannot create a test database "
                    f"there: {problem}", pytrace=False)
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _fresh_postgres_url(database_url: str) -> Iterator[str]:
    """A new, empty schema in the session's database, as a URL whose connections use it by default."""
    import secrets

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    schema = f"t_{secrets.token_hex(6)}"
    admin = create_engine(database_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield make_url(database_url).update_query_dict({"options": f"-csearch_path={schema}"}) \
            .render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text("SET lock_timeout = '10s'"))
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty release store URL, once per backend: SQLite in tmp_path, and a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'launchdeck.db'}"
    else:
        yield from _fresh_postgres_url(request.getfixturevalue("postgres_test_database"))


@pytest.fixture
def launchdeck_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """One empty release store URL for a test that runs the CLI (pass it as --db or LAUNCHDECK_DB):
    a fresh PostgreSQL schema when LAUNCHDECK_TEST_DB is set, else SQLite in tmp_path."""
    if os.environ.get(TEST_DB_ENV):
        yield from _fresh_postgres_url(request.getfixturevalue("postgres_test_database"))
    else:
        yield f"sqlite:///{tmp_path / 'launchdeck.db'}"


# -- the backend the CLI integration tests store their releases in ------------------------------------
#
#   LAUNCHDECK_TEST_BACKEND=postgresql LAUNCHDECK_TEST_DB=postgresql+psycopg://postgres@127.0.0.1:5432/test \
#     ./dev test -m integration
#
# LAUNCHDECK_TEST_BACKEND is `sqlite` (the default: a launchdeck.db file in the test's directory) or
# `postgresql` (a fresh schema in the session's database, see postgres_test_database: without
# LAUNCHDECK_TEST_DB those tests skip locally and fail in CI). Unlike db_url, which runs a store test once
# per backend, this picks one backend for the whole run.

TEST_BACKEND_ENV = "LAUNCHDECK_TEST_BACKEND"
TEST_BACKENDS = ("sqlite", "postgresql")


@pytest.fixture(scope="session")
def store_backend() -> str:
    """The backend LAUNCHDECK_TEST_BACKEND selects (`sqlite` when it is not set)."""
    value = os.environ.get(TEST_BACKEND_ENV, "").strip().lower() or "sqlite"
    if value not in TEST_BACKENDS:
        pytest.fail(f"{TEST_BACKEND_ENV}={os.environ[TEST_BACKEND_ENV]!r} is not a backend the tests know; "
                    f"use one of {', '.join(TEST_BACKENDS)}", pytrace=False)
    return value


@pytest.fixture(scope="session")
def new_store_url(request: pytest.FixtureRequest,
                  store_backend: str) -> Callable[[Path], AbstractContextManager[str]]:
    """``with new_store_url(directory) as url:`` an empty release store on the selected backend, removed
    afterwards: SQLite at directory/launchdeck.db, or a fresh PostgreSQL schema (dropped at the end of the
    ``with``). For fixtures of any scope; a test uses ``backend_db_url``."""
    database = request.getfixturevalue("postgres_test_database") if store_backend == "postgresql" else None

    @contextmanager
    def new(directory: Path) -> Iterator[str]:
        if database is None:
            yield f"sqlite:///{directory / 'launchdeck.db'}"
        else:
            yield from _fresh_postgres_url(database)

    return new


@pytest.fixture
def backend_db_url(new_store_url: Callable[[Path], AbstractContextManager[str]], tmp_path: Path) -> Iterator[str]:
    """One empty release store URL on the backend LAUNCHDECK_TEST_BACKEND selects (pass it as --db or
    LAUNCHDECK_DB): SQLite at tmp_path/launchdeck.db, or a fresh PostgreSQL schema."""
    with new_store_url(tmp_path) as url:
        yield url
