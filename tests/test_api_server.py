"""The API behind a real HTTP server (uvicorn): chunked bodies, the size limit, the lifespan.

``TestClient`` hands the app a whole body at once; here the bytes cross a socket, so a
chunked body really arrives in pieces and the limit is enforced while it streams.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from test_api_support import ApiEnv, make_api_env, serving, to_json

from api import create_app
from ledger.verify import ChainRef, verify_receipt

LIMIT = 64 * 1024



@pytest.fixture
def served(tmp_path) -> Iterator[tuple[ApiEnv, str]]:
    with make_api_env(tmp_path / "data", max_body_bytes=LIMIT, seal_interval_seconds=0.2) as env:
        app = create_app(env.ledger, env.settings, start_sealer=True)
        with serving(app) as base:
            yield env, base
        assert app.state.sealer.state == "stopped"


def _chunks(data: bytes, size: int) -> Iterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


def test_chunked_submission_over_a_socket(served):
    env, base = served
    sub = env.submission(env.alice)
    data = httpx.Request("POST", base, json=to_json(sub)).read()
    headers = {**env.alice.auth, "content-type": "application/json"}
    with httpx.Client(base_url=base) as http:
        r = http.post("/v1/records", content=_chunks(data, 100), headers=headers)
        assert r.request.headers["transfer-encoding"] == "chunked"
        assert r.status_code == 201, r.text
        deadline = time.monotonic() + 10
        while http.get("/v1/log").json()["checkpoint_size"] != env.tree_size():
            assert time.monotonic() < deadline, "the served app's sealer did not seal"
            time.sleep(0.05)
        receipt = http.get(f"/v1/records/{sub.envelope.id}/receipt").json()
    ident = env.identity
    chain = ChainRef(ident.chain_id, ident.contract)
    verify_receipt(receipt, origin=ident.origin, chain=chain, note_key=ident.note_key)


@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "content-length"])
def test_body_over_the_limit_over_a_socket(served, chunked):
    env, base = served
    size = env.tree_size()
    data = b'{"pad": "' + b"x" * (LIMIT + 10_000) + b'"}'
    headers = {**env.alice.auth, "content-type": "application/json"}
    with httpx.Client(base_url=base) as http:
        r = http.post("/v1/records", content=_chunks(data, 8192) if chunked else data, headers=headers)
        assert r.status_code == 413
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["type"] == "urn:tds-ledger:problem:payload-too-large"
        assert http.get("/v1/health").status_code == 200  # the server is fine afterwards
    assert env.tree_size() == size
