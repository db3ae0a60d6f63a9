"""The shared database fixtures reach a real, fresh database on each backend."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

pytest_plugins = ("pytester",)

CONFTEST = Path(__file__).with_name("conftest.py")


def _server_conninfo() -> str:
    url = make_url(os.environ.get("TDSL_TEST_POSTGRES_URL") or "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def test_database_url_connects_to_a_fresh_database(database_url: str, request: pytest.FixtureRequest) -> None:
    backend = request.node.callspec.params["database_url"]
    url = make_url(database_url)
    engine = create_engine(database_url)
    try:
        with engine.begin() as conn:
            assert conn.execute(text("select 1")).scalar_one() == 1
            assert inspect(conn).get_table_names() == []
            conn.execute(text("create table probe (id integer primary key)"))
            conn.execute(text("insert into probe (id) values (1)"))
            assert conn.execute(text("select count(*) from probe")).scalar_one() == 1
            if backend == "postgres":
                assert conn.dialect.name == "postgresql"
                assert url.drivername == "postgresql+psycopg"
                assert url.database.startswith("tdsl_test_")
                assert conn.execute(text("select current_database()")).scalar_one() == url.database
            else:
                assert backend == "sqlite"
                assert conn.dialect.name == "sqlite"
        if backend == "sqlite":
            assert Path(url.database).is_file()
            assert Path(url.database).parent == request.getfixturevalue("tmp_path")
    finally:
        engine.dispose()


def test_postgres_url_is_marked_and_unique(postgres_url: str, request: pytest.FixtureRequest) -> None:
    assert request.node.get_closest_marker("postgres") is not None
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    assert make_url(postgres_url).database.startswith(f"tdsl_test_{worker}_")


def _inner_conftest(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST.read_text())
    pytester.makeini(
        textwrap.dedent(
            """
            [pytest]
            addopts = --strict-markers -p no:cacheprovider
            markers =
                postgres: needs the PostgreSQL server
            """
        )
    )


@pytest.mark.postgres
def test_postgres_database_is_dropped_after_the_test(pytester: pytest.Pytester, tmp_path: Path) -> None:
    seen = tmp_path / "seen-database-name"
    _inner_conftest(pytester)
    pytester.makepyfile(
        f"""
        from pathlib import Path
        from sqlalchemy.engine import make_url

        def test_records_name(postgres_url):
            Path({str(seen)!r}).write_text(make_url(postgres_url).database)
        """
    )
    pytester.runpytest_inprocess().assert_outcomes(passed=1)
    name = seen.read_text()
    assert name.startswith("tdsl_test_")
    with psycopg.connect(_server_conninfo(), autocommit=True) as conn:
        assert conn.execute("select count(*) from pg_database where datname = %s", (name,)).fetchone() == (0,)


# Under CI the postgres half errors at fixture setup (pytest reports a failing fixture as an error).
@pytest.mark.parametrize(("ci", "outcome"), [("true", "errors"), ("", "skipped")], ids=["ci-fails", "local-skips"])
def test_unreachable_postgres_fails_in_ci_and_skips_elsewhere(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, ci: str, outcome: str
) -> None:
    _inner_conftest(pytester)
    pytester.makepyfile(
        """
        def test_needs_postgres(database_url):
            pass
        """
    )
    # Port 1 on loopback: nothing listens there, so the connection is refused at once.
    monkeypatch.setenv("TDSL_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:1/test")
    monkeypatch.setenv("CI", ci)
    result = pytester.runpytest_inprocess("-rsf")
    result.assert_outcomes(passed=1, **{outcome: 1})  # sqlite passes; postgres errors or skips
    result.stdout.fnmatch_lines(["*PostgreSQL at postgresql+psycopg://postgres@127.0.0.1:1/test*not reachable*"])
    if ci:
        assert result.ret == pytest.ExitCode.TESTS_FAILED
        result.stdout.fnmatch_lines(["*CI must run the PostgreSQL tests, not skip them.*"])
