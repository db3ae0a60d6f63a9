"""The background sealer the app runs: when it seals, how it fails, how it stops."""

from __future__ import annotations

import logging
import time

from sqlalchemy import text
from test_api_support import ApiEnv, dataset_payload, make_api_env

TIMEOUT = 10.0


def wait_for(predicate, timeout: float = TIMEOUT, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def sizes(env: ApiEnv) -> tuple[int, int | None]:
    info = env.client.get("/v1/log").json()
    return info["tree_size"], info["checkpoint_size"]


def add(env: ApiEnv, count: int) -> None:
    for _ in range(count):
        sub = env.submission(env.alice, payload=dataset_payload(f"d{time.monotonic_ns()}"))
        assert env.submit(env.alice, sub).status_code == 201


def test_seals_once_the_oldest_entry_is_old_enough(tmp_path):
    with make_api_env(tmp_path / "data", start_sealer=True, seal_interval_seconds=0.5) as env:
        assert env.client.get("/v1/health").json()["sealer"] == "running"
        wait_for(lambda: sizes(env) == (4, 4), what="the registrations to be sealed")
        started = time.monotonic()
        add(env, 1)
        wait_for(lambda: sizes(env) == (5, 5), what="the new entry to be sealed")
        assert time.monotonic() - started >= 0.4  # not before the interval
        r = env.client.get("/v1/tlog/checkpoint")
        assert r.status_code == 200 and r.text.split("\n")[1] == "5"


def test_seals_once_enough_entries_are_unsealed(tmp_path):
    with make_api_env(tmp_path / "data", start_sealer=True, seal_every_entries=3, seal_interval_seconds=3600) as env:
        wait_for(lambda: sizes(env) == (4, 4), what="the 4 registrations (>= 3) to be sealed")
        add(env, 2)
        time.sleep(1.0)  # five polls
        assert sizes(env) == (6, 4)
        add(env, 1)
        wait_for(lambda: sizes(env) == (7, 7), what="the third unsealed entry to trigger a seal")


def test_halts_loudly_rather_than_sign_a_fork(tmp_path, caplog):
    caplog.set_level(logging.CRITICAL, logger="ledger.sealer")
    with make_api_env(tmp_path / "data", seal_interval_seconds=0.1) as env:
        env.ledger.seal()
        add(env, 1)
        with env.ledger.store.engine.begin() as conn:  # entry 4 no longer hashes to its leaf hash
            conn.execute(text("UPDATE entries SET envelope = :e WHERE idx = 4"), {"e": b'{"forged":true}'})
        sealer = env.client.app.state.sealer
        sealer.start()
        try:
            wait_for(lambda: env.client.get("/v1/health").status_code == 503, what="the sealer to halt")
            wait_for(lambda: not sealer.is_alive(), what="the sealer loop to end")
        finally:
            sealer.stop()
        health = env.client.get("/v1/health").json()
        assert (health["status"], health["sealer"]) == ("unhealthy", "halted")
        assert "entry 4" in health["detail"]  # the audit at start-up names the forged entry
        assert sizes(env) == (5, 4)  # nothing was signed
        assert env.client.get("/v1/tlog/checkpoint").text.split("\n")[1] == "4"
    assert any(r.levelno == logging.CRITICAL and "halted" in r.getMessage() for r in caplog.records)


def test_other_errors_are_logged_and_retried(tmp_path, caplog, monkeypatch):
    caplog.set_level(logging.ERROR, logger="ledger.sealer")
    with make_api_env(tmp_path / "data", seal_interval_seconds=0.1) as env:
        real_seal, calls = env.ledger.seal, []

        def flaky_seal():
            calls.append(time.monotonic())
            if len(calls) <= 2:
                raise OSError("database briefly unreachable")
            return real_seal()

        monkeypatch.setattr(env.ledger, "seal", flaky_seal)
        sealer = env.client.app.state.sealer
        sealer.start()
        try:
            wait_for(lambda: sizes(env) == (4, 4), what="a seal after two failures")
        finally:
            sealer.stop()
        assert len(calls) == 3
        assert calls[2] - calls[1] > calls[1] - calls[0] > 0.3  # backoff grows: 0.4 s, then 0.8 s
        assert env.client.get("/v1/health").status_code == 200
        assert [r.levelno for r in caplog.records].count(logging.ERROR) == 2
        assert "database briefly unreachable" in caplog.text


def test_stops_cleanly_on_shutdown(tmp_path):
    with make_api_env(tmp_path / "data", start_sealer=True, seal_interval_seconds=0.2) as env:
        sealer = env.client.app.state.sealer
        assert sealer.is_alive()
        wait_for(lambda: sizes(env) == (4, 4), what="a first seal")
    assert not sealer.is_alive()
    assert sealer.state == "stopped"


def test_no_sealer_when_not_asked(tmp_path):
    with make_api_env(tmp_path / "data", start_sealer=False, seal_interval_seconds=0.1) as env:
        time.sleep(0.5)
        assert sizes(env) == (4, None)
        assert env.client.get("/v1/health").json()["sealer"] == "disabled"


def test_one_sealer_per_log_the_other_stands_by_and_takes_over(tmp_path, database_url):
    """Two API processes on one database: one seals, one stands by (healthy), and the second
    takes over when the first stops — on SQLite (lock file) and PostgreSQL (advisory lock)."""
    from ledger.sealer import Sealer
    from ledger.datadir import open_data_dir

    with make_api_env(tmp_path / "data", database_url, seal_interval_seconds=0.1) as env:
        replica = open_data_dir(env.settings)  # a second process's view: its own store, own connections
        first = Sealer(env.ledger, every_entries=1000, interval_seconds=0.1, poll_seconds=0.05)
        second = Sealer(replica, every_entries=1000, interval_seconds=0.1, poll_seconds=0.05, standby_poll_seconds=0.1)
        try:
            first.start()
            wait_for(lambda: sizes(env) == (4, 4), what="the first sealer to seal")
            second.start()
            wait_for(lambda: second.state == "standby", what="the second sealer to stand by")
            assert first.state == "running" and second.healthy and "another process" in second.detail
            first.stop()
            assert first.state == "stopped"
            wait_for(lambda: second.state == "running", what="the second sealer to take over")
            add(env, 2)
            wait_for(lambda: sizes(env) == (6, 6), what="the second sealer to seal")
        finally:
            first.stop()
            second.stop()
            replica.store.close()
        assert second.state == "stopped"
