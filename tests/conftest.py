"""Shared fixtures: a fresh database on each backend the store supports.

``database_url`` runs a test once on SQLite and once on PostgreSQL (ids ``sqlite`` and
``postgres``). PostgreSQL is the server named by ``TDSL_TEST_POSTGRES_URL``; each test gets
a database of its own, created before and dropped after it. If that server cannot be
reached the test is skipped on a developer's machine and fails under CI (``CI`` set):
CI must never pass by skipping the PostgreSQL half of the suite.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import URL, make_url

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
TEST_DATABASE_PREFIX = "tdsl_test_"


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _postgres_server_url() -> URL:
    return make_url(os.environ.get("TDSL_TEST_POSTGRES_URL") or DEFAULT_POSTGRES_URL)


def _libpq_conninfo(url: URL) -> str:
    """The SQLAlchemy URL as a plain ``postgresql://`` URI that psycopg accepts."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def _fresh_database_name() -> str:
    # Unique across xdist workers (gw0, gw1, ...) and across concurrent or killed runs.
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    return f"{TEST_DATABASE_PREFIX}{worker}_{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def _postgres_server() -> tuple[URL, str | None]:
    """The server URL and, if it cannot be reached, why (checked once per worker)."""
    url = _postgres_server_url()
    try:
        with psycopg.connect(_libpq_conninfo(url), connect_timeout=5, autocommit=True):
            pass
    except psycopg.Error as exc:
        shown = url.render_as_string(hide_password=True)
        return url, f"PostgreSQL at {shown} (TDSL_TEST_POSTGRES_URL) is not reachable: {exc}".strip()
    return url, None


@pytest.fixture
def postgres_url(_postgres_server: tuple[URL, str | None]) -> Iterator[str]:
    """SQLAlchemy URL (``postgresql+psycopg://``) of a new, empty database, dropped afterwards."""
    with fresh_postgres_database(require_postgres(_postgres_server)) as url:
        yield url


def require_postgres(server: tuple[URL, str | None]) -> URL:
    """The server's URL; if it is unreachable, fail under CI (never skip there), else skip."""
    server_url, unreachable = server
    if unreachable is not None:
        if _in_ci():
            pytest.fail(f"{unreachable}\nCI must run the PostgreSQL tests, not skip them.", pytrace=False)
        pytest.skip(unreachable)
    return server_url


@contextmanager
def fresh_postgres_database(server_url: URL) -> Iterator[str]:
    """Create a uniquely named database on the server, yield its URL, drop it afterwards."""
    name = _fresh_database_name()
    admin_conninfo = _libpq_conninfo(server_url)
    with psycopg.connect(admin_conninfo, connect_timeout=5, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield server_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin_conninfo, connect_timeout=5, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """SQLAlchemy URL of a new SQLite file database in the test's own temporary directory."""
    return f"sqlite:///{tmp_path / 'ledger.db'}"


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
def database_url(request: pytest.FixtureRequest) -> str:
    """SQLAlchemy URL of a fresh database; the test runs once per backend."""
    return request.getfixturevalue(f"{request.param}_url")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # A test that asks for postgres_url directly needs the server as much as one that
    # gets it through database_url: give it the same marker, so `-m "not postgres"` works.
    for item in items:
        if "postgres_url" in getattr(item, "fixturenames", ()) and item.get_closest_marker("postgres") is None:
            item.add_marker(pytest.mark.postgres)
