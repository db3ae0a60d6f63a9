"""Helpers shared by the API tests (no tests here): a real data directory, parties, a client.

``make_api_env`` runs ``ledger.datadir.init_data_dir`` on a fresh directory, registers
a provider (alice), a consumer (bob) and a regulator with ``register_participant``,
issues each a token, and serves the ledger through ``TestClient`` (sealer off unless
asked). Submissions are built with ``ledger.datadir.signed_submission``.
"""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

with warnings.catch_warnings():
    # starlette 1.x asks for httpx2 on import; the project pins httpx (pyproject).
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from api import create_app
from ledger.config import Settings
from ledger.datadir import (
    IDENTITY,
    Identity,
    init_data_dir,
    register_participant,
    signed_submission,
)
from ledger.envelope import address_of
from ledger.log import Ledger, Submission

ORIGIN = "api.test.tds-ledger.example/log"


@dataclass
class Party:
    name: str
    key: bytes
    address: str
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class ApiEnv:
    ledger: Ledger
    settings: Settings
    client: TestClient
    operator: Party
    alice: Party  # provider
    bob: Party  # consumer
    regulator: Party

    @property
    def identity(self) -> Identity:
        return Identity.from_file(self.settings.data_dir / IDENTITY)

    def tree_size(self) -> int:
        return self.ledger.store.tree_size(self.ledger.log.id)

    def submission(self, party: Party, *, kind: str = "dataset", payload: Any = None, **kw: Any) -> Submission:
        if payload is None:
            payload = dataset_payload()
        return signed_submission(self.ledger, party.key, kind=kind, payload=payload, **kw)

    def submit(self, party: Party, sub: Submission | dict, *, auth: Party | None = None):
        body = sub if isinstance(sub, dict) else to_json(sub)
        return self.client.post("/v1/records", json=body, headers=(auth or party).auth)


def dataset_payload(title: str = "Cell chemistry test results", **extra: Any) -> dict[str, Any]:
    content_hash = "sha256:" + hashlib.sha256(title.encode()).hexdigest()
    return {"title": title, "content_hash": content_hash, **extra}


def to_json(sub: Submission) -> dict[str, Any]:
    out = {"envelope": sub.envelope.to_json(), "payload": sub.payload, "salt": sub.salt.hex()}
    if sub.visibility is not None:
        out["visibility"] = sub.visibility
    return out


def _party(ledger: Ledger, operator_key: bytes, name: str, roles: list[str], legal_id: tuple[str, str]) -> Party:
    key = os.urandom(32)
    address = address_of(key)
    register_participant(ledger, operator_key, address=address, name=name, legal_id=legal_id, roles=roles)
    return Party(name, key, address, ledger.issue_token(address, f"{name} (test)"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving(app: Any, *, ssl_certfile: Path | None = None, ssl_keyfile: Path | None = None) -> Iterator[str]:
    """``app`` under a real uvicorn server in a thread, on a free loopback port, lifespan
    on (TLS only, given the certificate and key files); yields its base URL, and on exit
    stops it and checks the thread ended."""
    import uvicorn

    port = free_port()
    tls = {} if ssl_certfile is None else {"ssl_certfile": str(ssl_certfile), "ssl_keyfile": str(ssl_keyfile)}
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", **tls))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)
        assert not thread.is_alive(), "uvicorn did not stop"


@contextmanager
def make_api_env(
    data_dir: Path, database_url: str | None = None, *, start_sealer: bool = False, **settings: Any
) -> Iterator[ApiEnv]:
    operator_key = os.urandom(32)
    settings.setdefault("max_body_bytes", 64 * 1024)
    s = Settings(data_dir=data_dir, database_url=database_url, operator_key=operator_key.hex(), **settings)
    ledger, operator_token = init_data_dir(s, origin=ORIGIN)
    operator = Party("operator", operator_key, ledger.log.operator, operator_token)
    alice = _party(ledger, operator_key, "alice", ["provider"], ("LEI", "5493001KJTIIGC8Y1R12"))
    bob = _party(ledger, operator_key, "bob", ["consumer"], ("EORI", "DE123456789012345"))
    regulator = _party(ledger, operator_key, "regulator", ["regulator"], ("OTHER", "market-surveillance"))
    app = create_app(ledger, s, start_sealer=start_sealer)
    try:
        with TestClient(app) as client:
            yield ApiEnv(ledger, s, client, operator, alice, bob, regulator)
    finally:
        ledger.store.close()
