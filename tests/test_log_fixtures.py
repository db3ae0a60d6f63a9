"""Fixtures shared by the ledger-level suites (admission, access, erasure, sealer, receipts).

No tests here. ``world`` is an initialised ledger (operator, registered provider) on
SQLite and on PostgreSQL, like ``make_world`` on ``database_url``, with one difference
on PostgreSQL: creating a database costs about a second, so each test module gets one
database and each test its own *log* in it (a unique origin). That keeps tests isolated
— every query of the store is scoped to its log, which these suites thereby exercise
with neighbours present — and keeps the suites well under a minute. SQLite gets a fresh
file per test (the erasure test reads those files byte by byte).
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import fresh_postgres_database, require_postgres
from ledger_fixtures import World, make_world

from ledger.datadir import register_participant
from ledger.envelope import address_of

__all__ = ["backend_url", "dataset", "make_world_at", "new_participant", "shared_postgres_url", "sqlite_world", "world"]


@pytest.fixture(scope="module")
def shared_postgres_url(_postgres_server) -> Iterator[str]:
    """One fresh PostgreSQL database for the module, dropped afterwards."""
    with fresh_postgres_database(require_postgres(_postgres_server)) as url:
        yield url


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
def backend_url(request: pytest.FixtureRequest) -> str:
    """A fresh SQLite file, or the module's PostgreSQL database: the test runs on both."""
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "shared_postgres_url")


def make_world_at(data_dir: Path, database_url: str, origin: str | None = None) -> World:
    """``make_world`` with a unique origin, so several worlds can share one database."""
    return make_world(data_dir, database_url, origin or f"test.tds-ledger.example/{uuid.uuid4().hex[:12]}")


@pytest.fixture
def world(tmp_path: Path, backend_url: str) -> Iterator[World]:
    w = make_world_at(tmp_path / "data", backend_url)
    yield w
    w.ledger.store.close()


@pytest.fixture
def sqlite_world(tmp_path: Path, sqlite_url: str) -> Iterator[World]:
    w = make_world_at(tmp_path / "data", sqlite_url)
    yield w
    w.ledger.store.close()


def dataset(title: str = "Cell line 7 measurements", **extra: str) -> dict:
    """A valid ``dataset`` payload."""
    return {"title": title, "content_hash": "sha256:" + hashlib.sha256(title.encode()).hexdigest(), **extra}


def new_participant(w: World, roles: list[str], name: str = "Another participant") -> tuple[bytes, str]:
    """Register a new address with ``roles``; return its key and address."""
    key = os.urandom(32)
    address = address_of(key)
    register_participant(w.ledger, w.operator_key, address=address, name=name, legal_id=("LEI", "X1"), roles=roles)
    return key, address
