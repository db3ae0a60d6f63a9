"""What ``api.openapi`` makes true of the OpenAPI document (issue 8, item 5, in part).

Checked against the served ``/openapi.json`` and against real answers of the app:
every ``/v1`` operation documents its error statuses as problem+json (and no FastAPI
422 ``HTTPValidationError``, which the server never sends), a status the server really
answers on a route is documented there, the bearer scheme is optional exactly where
anonymous callers may read, and a submission's answer links to the record and its
receipt.
"""

from __future__ import annotations

from test_api_support import make_api_env, to_json

PROBLEM = {"$ref": "#/components/schemas/Problem"}


def _ops(doc):
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            yield method.upper(), path, op


def test_every_v1_error_is_documented_as_a_problem(tmp_path):
    with make_api_env(tmp_path / "data") as env:
        doc = env.client.get("/openapi.json").json()
    assert "Problem" in doc["components"]["schemas"]
    v1 = [(m, p, op) for m, p, op in _ops(doc) if p.startswith("/v1/")]
    assert "HTTPValidationError" not in str(v1)  # FastAPI's 422 for parameters: the server sends 400
    assert len(v1) >= 18
    for method, path, op in v1:
        errors = {int(s): r for s, r in op["responses"].items() if int(s) >= 400}
        assert {400, 401} <= set(errors), (method, path, sorted(errors))
        for status, r in errors.items():
            if (path, status) == ("/v1/health", 503):  # a halted sealer: the health body itself, documented so
                continue
            assert r["content"]["application/problem+json"]["schema"] == PROBLEM, (method, path, status)
        if "{" in path:
            assert 404 in errors, (method, path)
        if "requestBody" in op:
            assert {413, 415, 422} <= set(errors), (method, path)


def test_security_is_optional_exactly_where_anonymous_callers_may_read(tmp_path):
    with make_api_env(tmp_path / "data") as env:
        doc = env.client.get("/openapi.json").json()
        for method, path, op in _ops(doc):
            if not path.startswith("/v1/") or "{" in path or method != "GET":
                continue
            anonymous = env.client.get(path, params=_params(path))
            optional = {} in op["security"]
            assert optional == (anonymous.status_code != 401), (path, anonymous.status_code, op["security"])
        for method, path, op in _ops(doc):
            if path in ("/v1/records", "/v1/records/batch", "/v1/tokens") and method in ("POST", "DELETE"):
                assert op["security"] == [{"HTTPBearer": []}], (method, path)


def _params(path: str) -> dict[str, str]:
    return {"/v1/proofs/inclusion": {"leaf_index": "0", "tree_size": "1"},
            "/v1/proofs/consistency": {"first": "1", "second": "1"}}.get(path, {})  # fmt: skip


def test_answers_the_server_gives_are_documented(tmp_path):
    with make_api_env(tmp_path / "data") as env:
        doc = env.client.get("/openapi.json").json()
        c = env.client
        sub = env.submission(env.alice)
        seen = [
            ("POST", "/v1/records", env.submit(env.alice, sub)),
            ("POST", "/v1/records", env.submit(env.alice, to_json(sub) | {"payload": {"other": 1}})),  # 422
            ("POST", "/v1/records", c.post("/v1/records", content=b"{", headers=env.alice.auth | {"content-type": "application/json"})),
            ("POST", "/v1/records", c.post("/v1/records", content=b"{}", headers=env.alice.auth | {"content-type": "text/plain"})),
            ("POST", "/v1/records", env.submit(env.bob, env.submission(env.alice), auth=env.bob)),  # 403
            ("GET", "/v1/records", c.get("/v1/records", params={"author": "nope"})),
            ("GET", "/v1/records", c.get("/v1/records", headers={"Authorization": "Bearer tdsl_unknown"})),
            ("GET", "/v1/records/{record_id}", c.get("/v1/records/missing")),
            ("GET", "/v1/records/{record_id}/receipt", c.get("/v1/records/missing/receipt")),
            ("GET", "/v1/tlog/tile/{path}", c.get("/v1/tlog/tile/0/999")),
            ("GET", "/v1/proofs/inclusion", c.get("/v1/proofs/inclusion", params={"leaf_index": "0", "tree_size": "999"})),
            ("POST", "/v1/tokens", c.post("/v1/tokens", json={"address": env.alice.address}, headers=env.alice.auth)),
        ]  # fmt: skip
    for method, path, r in seen:
        documented = doc["paths"][path][method.lower()]["responses"]
        assert str(r.status_code) in documented, (method, path, r.status_code, r.text[:200], sorted(documented))


def test_a_submission_links_to_its_record_and_receipt(tmp_path):
    with make_api_env(tmp_path / "data") as env:
        doc = env.client.get("/openapi.json").json()
    ops = {op["operationId"]: (m, p) for m, p, op in _ops(doc)}
    links = doc["paths"]["/v1/records"]["post"]["responses"]["201"]["links"]
    assert {"GetRecord", "GetReceipt", "GetLineage"} <= set(links)
    for link in links.values():
        assert link["parameters"] == {"record_id": "$response.body#/id"}
        method, path = ops[link["operationId"]]
        assert method == "GET" and "{record_id}" in path
