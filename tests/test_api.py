"""The HTTP API: submitting, reading, receipts, erasure, tokens, the log, errors as problems.

Every test runs against a real data directory made by ``init_data_dir``; tests that
exercise storage run on SQLite and PostgreSQL (``database_url``). Every rejected
submission is also checked to have stored nothing (tree size unchanged).
"""

from __future__ import annotations

import json
import os
import uuid

import pytest
from test_api_support import (
    ORIGIN,
    ApiEnv,
    TestClient,
    create_app,
    dataset_payload,
    make_api_env,
    to_json,
)

from api.errors import PROBLEM_MEDIA_TYPE
from ledger import merkle
from ledger.checkpoint import NoteVerifier, verify_checkpoint
from ledger.config import Settings
from ledger.datadir import init_data_dir, now_rfc3339, open_data_dir, signed_submission
from ledger.envelope import make_commitment, new_salt, sign_envelope
from ledger.errors import InvalidProof, InvalidSignature, VerificationError
from ledger.log import Submission
from ledger.verify import ChainRef, verify_receipt

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


@pytest.fixture
def env(tmp_path):
    """SQLite only: for tests of the HTTP layer rather than of storage."""
    with make_api_env(tmp_path / "data") as e:
        yield e


@pytest.fixture(scope="module")
def shared_env(tmp_path_factory):
    """One ledger for a module's tests that must leave it unchanged (each asserts so)."""
    with make_api_env(tmp_path_factory.mktemp("shared") / "data") as e:
        yield e


@pytest.fixture
def store_env(tmp_path, database_url):
    """Once on SQLite, once on PostgreSQL."""
    with make_api_env(tmp_path / "data", database_url) as e:
        yield e


def assert_problem(r, status: int, type_suffix: str | None = None) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == PROBLEM_MEDIA_TYPE
    body = r.json()
    assert {"type", "title", "status", "detail"} <= set(body)
    assert body["status"] == status
    assert isinstance(body["detail"], str) and body["detail"]
    assert "Traceback" not in body["detail"]
    if type_suffix is not None:
        assert body["type"] == "urn:tds-ledger:problem:" + type_suffix, body
    return body


def verify_with_identity(env: ApiEnv, receipt: dict) -> None:
    ident = env.identity  # from the data directory init wrote, not from the receipt
    verify_receipt(
        receipt, origin=ident.origin, chain=ChainRef(ident.chain_id, ident.contract), note_key=ident.note_key
    )


# -- submitting -------------------------------------------------------------------------


def test_submit_appends_and_reads_back(store_env: ApiEnv):
    env = store_env
    size = env.tree_size()
    sub = env.submission(env.alice)
    r = env.submit(env.alice, sub)
    assert r.status_code == 201, r.text
    assert r.json() == {
        "id": sub.envelope.id, "leaf_index": size, "leaf_hash": sub.envelope.leaf_hash().hex(), "duplicate": False,
        "state": None,  # a dataset has no derived state
    }  # fmt: skip
    assert env.tree_size() == size + 1
    got = env.client.get(f"/v1/records/{sub.envelope.id}")
    assert got.status_code == 200
    view = got.json()
    assert view["envelope"] == sub.envelope.to_json()
    assert (view["leaf_index"], view["kind"], view["author"]) == (size, "dataset", env.alice.address)
    assert "payload" not in view  # anonymous


def test_submit_twice_is_idempotent(store_env: ApiEnv):
    env = store_env
    sub = env.submission(env.alice)
    first = env.submit(env.alice, sub)
    size = env.tree_size()
    second = env.submit(env.alice, sub)
    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json() == {**first.json(), "duplicate": True}
    assert env.tree_size() == size


def test_same_id_with_other_content_conflicts(store_env: ApiEnv):
    env = store_env
    record_id = str(uuid.uuid4())
    assert env.submit(env.alice, env.submission(env.alice, record_id=record_id)).status_code == 201
    size = env.tree_size()
    other = env.submission(env.alice, record_id=record_id, payload=dataset_payload("another dataset"))
    assert_problem(env.submit(env.alice, other), 409, "conflict")
    assert env.tree_size() == size


def test_operator_may_relay_a_record_signed_by_its_author(env: ApiEnv):
    r = env.submit(env.alice, env.submission(env.alice), auth=env.operator)
    assert r.status_code == 201, r.text


def test_batch_is_appended_atomically_with_lineage(store_env: ApiEnv):
    env = store_env
    size = env.tree_size()
    v1 = env.submission(env.alice, payload=dataset_payload("v1"))
    v2 = env.submission(env.alice, payload=dataset_payload("v2"), parents=(v1.envelope.leaf_hash().hex(),))
    v3 = env.submission(env.alice, payload=dataset_payload("v3"), parents=(v2.envelope.leaf_hash().hex(),))
    body = {"records": [to_json(v1), to_json(v2), to_json(v3)]}
    r = env.client.post("/v1/records/batch", json=body, headers=env.alice.auth)
    assert r.status_code == 201, r.text
    assert [a["leaf_index"] for a in r.json()] == [size, size + 1, size + 2]
    assert [a["id"] for a in r.json()] == [v1.envelope.id, v2.envelope.id, v3.envelope.id]
    again = env.client.post("/v1/records/batch", json=body, headers=env.alice.auth)
    assert again.status_code == 200
    assert all(a["duplicate"] for a in again.json())
    assert env.tree_size() == size + 3


def test_batch_with_one_bad_record_stores_nothing(store_env: ApiEnv):
    env = store_env
    size = env.tree_size()
    good = [to_json(env.submission(env.alice, payload=dataset_payload(f"d{i}"))) for i in range(3)]
    mismatched = [dict(good[0]), dict(good[1]), dict(good[2])]
    mismatched[1]["payload"] = dataset_payload("not what was signed")
    r = env.client.post("/v1/records/batch", json={"records": mismatched}, headers=env.alice.auth)
    body = assert_problem(r, 422, "invalid-record")
    assert body["detail"].startswith("record 1 ")
    unparsable = [good[0], good[1], {**good[2], "salt": "zz" * 32}]
    body = assert_problem(
        env.client.post("/v1/records/batch", json={"records": unparsable}, headers=env.alice.auth), 400
    )
    assert body["detail"].startswith("record 2: ")
    foreign = [good[0], to_json(env.submission(env.bob, kind="dataset"))]
    body = assert_problem(env.client.post("/v1/records/batch", json={"records": foreign}, headers=env.alice.auth), 403)
    assert "record 1" in body["detail"]
    assert env.tree_size() == size


@pytest.mark.parametrize(
    "body",
    [{"records": []}, {"records": {}}, {"records": [{}] * 1001}, {"items": []}, {"records": [], "extra": 1}, []],
    ids=["empty", "not-a-list", "over-1000", "wrong-key", "extra-key", "not-an-object"],
)
def test_batch_shape_is_checked(shared_env: ApiEnv, body):
    env = shared_env
    size = env.tree_size()
    assert_problem(env.client.post("/v1/records/batch", json=body, headers=env.alice.auth), 400)
    assert env.tree_size() == size


# -- every bad submission is a problem, and stores nothing --------------------------------


def _text(sub: Submission) -> str:
    return json.dumps(to_json(sub))


def _raw(content: bytes | str, **headers: str) -> dict:
    if isinstance(content, str):
        content = content.encode()
    return {"content": content, "headers": {"content-type": "application/json", **headers}}


def _body(value) -> dict:
    return _raw(json.dumps(value))


def _with(sub: Submission, **changes) -> dict:
    return _body({**to_json(sub), **changes})


def _with_envelope(sub: Submission, **changes) -> dict:
    return _body({**to_json(sub), "envelope": {**sub.envelope.to_json(), **changes}})


def _without(sub: Submission, key: str) -> dict:
    body = to_json(sub)
    del body[key]
    return _body(body)


def _high_s(sub: Submission) -> dict:
    sig = bytes.fromhex(sub.envelope.sig[2:])
    s = SECP256K1_N - int.from_bytes(sig[32:64], "big")
    flipped = sig[:32] + s.to_bytes(32, "big") + bytes([55 - sig[64]])
    return _with_envelope(sub, sig="0x" + flipped.hex())


def _other_origin(env: ApiEnv) -> dict:
    payload, salt = dataset_payload(), new_salt()
    envelope = sign_envelope(
        log="other.tds-ledger.example/log", kind="dataset", id=str(uuid.uuid4()), issued_at=now_rfc3339(),
        commitment=make_commitment(payload, salt), parents=(), private_key=env.alice.key, domain=env.ledger.domain,
    )  # fmt: skip
    return _body(to_json(Submission(envelope, payload, salt)))


def _unregistered(env: ApiEnv) -> dict:
    return _body(to_json(signed_submission(env.ledger, os.urandom(32), kind="dataset", payload=dataset_payload())))


def _add(sub: Submission, member: str) -> dict:
    """The submission's JSON text with ``member`` (raw JSON text) added to its top-level object."""
    return _raw(_text(sub)[:-1] + ", " + member + "}")


def _in_payload(sub: Submission, member: str) -> dict:
    """The submission's JSON text with ``member`` (raw JSON text) added to its payload object."""
    return _raw(_text(sub).replace('"payload": {', '"payload": {' + member + ", ", 1))


def _oversized(sub: Submission) -> bytes:
    return (_text(sub)[:-1] + ', "pad": "' + "x" * 70_000 + '"}').encode()


def _chunks(data: bytes, size: int = 4096):
    for i in range(0, len(data), size):
        yield data[i : i + size]


# name -> (body builder, status, problem type or None for about:blank[, who authenticates])
# A builder returns the request's content and headers; the token is alice's unless the
# fourth column names another party or gives the Authorization header itself.
BAD_SUBMISSIONS = {
    "malformed-json": (lambda env, sub: _raw('{"envelope": {"v": 1,'), 400, "malformed-json"),
    "trailing-garbage": (lambda env, sub: _raw(_text(sub) + " x"), 400, "malformed-json"),
    "nan": (lambda env, sub: _in_payload(sub, '"x": NaN'), 400, "malformed-json"),
    "infinity": (lambda env, sub: _add(sub, '"n": -Infinity'), 400, "malformed-json"),
    "duplicate-keys": (lambda env, sub: _add(sub, f'"salt": "{sub.salt.hex()}"'), 400, "malformed-json"),
    "nested-10000": (lambda env, sub: _raw("[" * 10_000 + "]" * 10_000), 400, "malformed-json"),
    "nested-10000-in-payload": (
        lambda env, sub: _in_payload(sub, '"deep": ' + "[" * 10_000 + "]" * 10_000), 400, "malformed-json"
    ),
    "integer-400-digits": (lambda env, sub: _in_payload(sub, '"n": 1' + "0" * 399), 400, "malformed-json"),
    "integer-over-2**53": (lambda env, sub: _in_payload(sub, '"n": 9007199254740993'), 400, "malformed-json"),
    "float-overflow": (lambda env, sub: _in_payload(sub, '"n": 1e400'), 400, "malformed-json"),
    "invalid-utf8": (lambda env, sub: _raw(b'{"envelope": "\xff\xfe"}'), 400, "malformed-json"),
    "byte-order-mark": (lambda env, sub: _raw(b"\xef\xbb\xbf" + _text(sub).encode()), 400, "malformed-json"),
    "lone-surrogate": (lambda env, sub: _in_payload(sub, '"s": "\\ud800"'), 400, "malformed-json"),
    "empty-body": (lambda env, sub: _raw(b""), 400, "malformed-json"),
    "not-an-object": (lambda env, sub: _body([to_json(sub)]), 400, "malformed-envelope"),
    "double-encoded-submission": (lambda env, sub: _body(_text(sub)), 400, "malformed-envelope"),
    "envelope-as-json-text": (
        lambda env, sub: _with(sub, envelope=json.dumps(sub.envelope.to_json())), 400, "malformed-envelope"
    ),
    "salt-not-hex": (lambda env, sub: _with(sub, salt="zz" * 32), 400, "malformed-envelope"),
    "salt-uppercase-hex": (lambda env, sub: _with(sub, salt=sub.salt.hex().upper()), 400, "malformed-envelope"),
    "salt-too-short": (lambda env, sub: _with(sub, salt=sub.salt.hex()[:62]), 400, "malformed-envelope"),
    "salt-not-a-string": (lambda env, sub: _with(sub, salt=12), 400, "malformed-envelope"),
    "missing-salt": (lambda env, sub: _without(sub, "salt"), 400, "malformed-envelope"),
    "missing-payload": (lambda env, sub: _without(sub, "payload"), 400, "malformed-envelope"),
    "extra-field": (lambda env, sub: _with(sub, note="hi"), 400, "malformed-envelope"),
    "bad-visibility": (lambda env, sub: _with(sub, visibility="secret"), 400, "malformed-envelope"),
    "envelope-missing-field": (
        lambda env, sub: _with(sub, envelope={k: v for k, v in sub.envelope.to_json().items() if k != "sig"}),
        400, "malformed-envelope",
    ),
    "envelope-extra-field": (lambda env, sub: _with_envelope(sub, extra=1), 400, "malformed-envelope"),
    "envelope-version-2": (lambda env, sub: _with_envelope(sub, v=2), 400, "malformed-envelope"),
    "envelope-author-not-checksummed": (
        lambda env, sub: _with_envelope(sub, author=sub.envelope.author.lower()), 400, "malformed-envelope"
    ),
    "envelope-bad-issued-at": (lambda env, sub: _with_envelope(sub, issued_at="yesterday"), 400, "malformed-envelope"),
    "envelope-parents-not-a-list": (lambda env, sub: _with_envelope(sub, parents="ab" * 32), 400, "malformed-envelope"),
    "unknown-kind": (lambda env, sub: _body(to_json(env.submission(env.alice, kind="pcf"))), 422, "invalid-record"),
    "bad-signature": (lambda env, sub: _with_envelope(sub, id=str(uuid.uuid4())), 422, "invalid-signature"),
    "high-s-signature": (lambda env, sub: _high_s(sub), 422, "invalid-signature"),
    "wrong-log-origin": (lambda env, sub: _other_origin(env), 422, "invalid-record"),
    "payload-not-committed": (lambda env, sub: _with(sub, payload=dataset_payload("other")), 422, "invalid-record"),
    "salt-not-committed": (lambda env, sub: _with(sub, salt="00" * 32), 422, "invalid-record"),
    "payload-fails-schema": (
        lambda env, sub: _body(to_json(env.submission(env.alice, payload={"title": "no content hash"}))),
        422, "invalid-record",
    ),
    "issued-in-the-future": (
        lambda env, sub: _body(to_json(env.submission(env.alice, issued_at="2999-01-01T00:00:00Z"))),
        422, "invalid-record",
    ),
    "parent-not-in-log": (
        lambda env, sub: _body(to_json(env.submission(env.alice, parents=("ab" * 32,)))), 422, "invalid-record"
    ),
    "author-lacks-role": (lambda env, sub: _body(to_json(env.submission(env.bob))), 422, "invalid-record", "bob"),
    "participant-by-non-operator": (
        lambda env, sub: _body(to_json(env.submission(
            env.alice, kind="participant",
            payload={"address": env.alice.address, "name": "me", "legal_id": {"scheme": "LEI", "value": "X"},
                     "roles": ["regulator"]},
        ))),
        422, "invalid-record",
    ),  # fmt: skip
    "unregistered-author": (lambda env, sub: _unregistered(env), 422, "invalid-record", "operator"),
    "token-of-another-party": (lambda env, sub: _body(to_json(sub)), 403, "forbidden", "bob"),
    "no-token": (lambda env, sub: _body(to_json(sub)), 401, "unauthorized", None),
    "unknown-token": (lambda env, sub: _body(to_json(sub)), 401, "unauthorized", "Bearer tdsl_nope"),
    "revoked-token": (lambda env, sub: _body(to_json(sub)), 401, "unauthorized", "revoked"),
    "not-a-bearer-token": (lambda env, sub: _body(to_json(sub)), 401, "unauthorized", "Basic YTpi"),
    "content-type-text": (lambda env, sub: _raw(_text(sub), **{"content-type": "text/plain"}), 415, None),
    "content-type-form": (
        lambda env, sub: _raw(_text(sub), **{"content-type": "application/x-www-form-urlencoded"}), 415, None
    ),
    "content-type-missing": (lambda env, sub: {"content": _text(sub).encode(), "headers": {}}, 415, None),
    "too-large-content-length": (lambda env, sub: _raw(_oversized(sub)), 413, "payload-too-large"),
    "too-large-chunked": (
        lambda env, sub: {**_raw(b""), "content": _chunks(_oversized(sub))}, 413, "payload-too-large"
    ),
}


def _authorization(env: ApiEnv, who: str | None) -> dict[str, str]:
    if who is None:
        return {}
    if who == "revoked":
        token = env.ledger.issue_token(env.alice.address)
        env.ledger.revoke_token(token, env.ledger.viewer_for(env.ledger.log.operator))
        return {"Authorization": f"Bearer {token}"}
    if " " in who:
        return {"Authorization": who}
    return getattr(env, who).auth


@pytest.mark.parametrize("case", BAD_SUBMISSIONS, ids=list(BAD_SUBMISSIONS))
def test_bad_submission_is_a_problem_and_stores_nothing(shared_env: ApiEnv, case: str):
    env = shared_env
    build, status, type_suffix, *who = BAD_SUBMISSIONS[case]
    sub = env.submission(env.alice)
    request = build(env, sub)
    headers = {**request["headers"], **_authorization(env, who[0] if who else "alice")}
    size = env.tree_size()
    r = env.client.post("/v1/records", content=request["content"], headers=headers)
    body = assert_problem(r, status, type_suffix)
    if type_suffix is None:
        assert body["type"] == "about:blank"
    if status == 401:
        assert r.headers["www-authenticate"] == "Bearer"
    assert env.tree_size() == size
    assert env.client.get(f"/v1/records/{sub.envelope.id}").status_code == 404


def test_chunked_body_within_the_limit_is_read(env: ApiEnv):
    sub = env.submission(env.alice)
    headers = {**env.alice.auth, "content-type": "application/json"}
    r = env.client.post("/v1/records", content=_chunks(_text(sub).encode(), 7), headers=headers)
    assert r.status_code == 201, r.text


def test_content_type_with_charset_is_json(env: ApiEnv):
    sub = env.submission(env.alice)
    r = env.client.post(
        "/v1/records", content=_text(sub), headers={**env.alice.auth, "content-type": "application/json; charset=utf-8"}
    )
    assert r.status_code == 201, r.text


# -- reading ----------------------------------------------------------------------------


def test_private_record_answers_exactly_like_a_missing_one(env: ApiEnv):
    sub = env.submission(env.alice, visibility="private", record_id="private-1")
    assert env.submit(env.alice, sub).status_code == 201
    missing = env.client.get("/v1/records/private-2", headers=env.bob.auth).json()
    for path in ("/v1/records/private-1", "/v1/records/private-1/receipt"):
        for headers in ({}, env.bob.auth):
            r = env.client.get(path, headers=headers)
            assert_problem(r, 404, "not-found")
            assert r.json() == {**missing, "detail": missing["detail"].replace("private-2", "private-1")}
    for party in (env.alice, env.operator, env.regulator):
        view = env.client.get("/v1/records/private-1", headers=party.auth).json()
        assert (view["payload"], view["salt"]) == (sub.payload, sub.salt.hex())


def test_payload_is_shown_only_to_author_operator_and_regulators(env: ApiEnv):
    sub = env.submission(env.alice)
    env.submit(env.alice, sub)
    path = f"/v1/records/{sub.envelope.id}"
    assert "payload" not in env.client.get(path).json()
    assert "payload" not in env.client.get(path, headers=env.bob.auth).json()
    for party in (env.alice, env.operator, env.regulator):
        assert env.client.get(path, headers=party.auth).json()["payload"] == sub.payload
        receipt = env.client.get(path + "/receipt", headers=party.auth).json()
        assert (receipt["payload"], receipt["salt"]) == (sub.payload, sub.salt.hex())
    receipt = env.client.get(path + "/receipt", headers=env.bob.auth).json()
    assert "payload" not in receipt and "salt" not in receipt


def test_list_records_filters_pages_and_hides_private(env: ApiEnv):
    public = [env.submission(env.alice, payload=dataset_payload(f"p{i}")) for i in range(3)]
    private = env.submission(env.alice, visibility="private")
    for sub in [*public, private]:
        assert env.submit(env.alice, sub).status_code == 201
    anonymous = env.client.get("/v1/records", params={"kind": "dataset"}).json()
    assert [r["id"] for r in anonymous["records"]] == [s.envelope.id for s in public]
    assert anonymous["next_start"] is None
    mine = env.client.get("/v1/records", params={"author": env.alice.address}, headers=env.alice.auth).json()
    assert [r["id"] for r in mine["records"]] == [s.envelope.id for s in [*public, private]]
    assert all("payload" in r for r in mine["records"])
    participants = env.client.get("/v1/records", params={"kind": "participant"}).json()["records"]
    assert {r["author"] for r in participants} == {env.operator.address}
    page = env.client.get("/v1/records", params={"kind": "dataset", "limit": 2}).json()
    assert [r["id"] for r in page["records"]] == [s.envelope.id for s in public[:2]]
    rest = env.client.get("/v1/records", params={"kind": "dataset", "start": page["next_start"]}).json()
    assert [r["id"] for r in rest["records"]] == [public[2].envelope.id]
    none = env.client.get("/v1/records", params={"author": env.bob.address}).json()
    assert none == {"records": [], "next_start": None}


@pytest.mark.parametrize(
    "params", [{"limit": 1001}, {"limit": 0}, {"start": -1}, {"limit": "ten"}, {"start": "1" * 400}],
    ids=["limit-1001", "limit-0", "start-negative", "limit-not-int", "start-400-digits"],
)
def test_list_records_rejects_bad_parameters(shared_env: ApiEnv, params):
    assert_problem(shared_env.client.get("/v1/records", params=params), 400)


def test_unknown_record_is_404(env: ApiEnv):
    assert_problem(env.client.get("/v1/records/nope"), 404, "not-found")
    assert_problem(env.client.get("/v1/records/nope/receipt"), 404, "not-found")
    assert_problem(env.client.delete("/v1/records/nope/payload", headers=env.operator.auth), 404, "not-found")


# -- receipts and erasure -----------------------------------------------------------------


def test_receipt_over_http_verifies_offline(store_env: ApiEnv):
    env = store_env
    sub = env.submission(env.alice)
    env.submit(env.alice, sub)
    for headers in ({}, env.alice.auth):
        r = env.client.get(f"/v1/records/{sub.envelope.id}/receipt", headers=headers)
        assert r.status_code == 200, r.text
        receipt = r.json()
        assert receipt["type"] == "tds-ledger/receipt@1" and receipt["anchor"] is None
        assert receipt["entry"] == sub.envelope.to_json()
        verify_with_identity(env, receipt)
    assert receipt["salt"] == sub.salt.hex()
    ident = env.identity
    with pytest.raises(InvalidProof):
        verify_with_identity(env, {**receipt, "leaf_index": receipt["leaf_index"] - 1})
    with pytest.raises(VerificationError):
        verify_with_identity(env, {**receipt, "payload": dataset_payload("forged")})
    with pytest.raises(InvalidSignature):  # another deployment's domain
        verify_receipt(receipt, origin=ident.origin, chain=ChainRef(1, ident.contract), note_key=ident.note_key)


def test_erase_payload(store_env: ApiEnv):
    env = store_env
    sub = env.submission(env.alice)
    env.submit(env.alice, sub)
    path = f"/v1/records/{sub.envelope.id}/payload"
    assert_problem(env.client.delete(path), 401, "unauthorized")
    assert_problem(env.client.delete(path, headers=env.bob.auth), 403, "forbidden")
    assert_problem(env.client.delete(path, headers=env.regulator.auth), 403, "forbidden")
    r = env.client.delete(path, headers=env.alice.auth)
    assert r.status_code == 200, r.text
    view = r.json()
    assert view["erased_at"] is not None and "payload" not in view
    assert view["envelope"] == sub.envelope.to_json()
    receipt = env.client.get(f"/v1/records/{sub.envelope.id}/receipt", headers=env.alice.auth).json()
    assert "payload" not in receipt
    verify_with_identity(env, receipt)  # every proof stays valid
    assert env.client.delete(path, headers=env.operator.auth).status_code == 200


def test_private_record_of_another_cannot_be_erased_or_probed(env: ApiEnv):
    sub = env.submission(env.alice, visibility="private")
    env.submit(env.alice, sub)
    assert_problem(env.client.delete(f"/v1/records/{sub.envelope.id}/payload", headers=env.bob.auth), 404, "not-found")


# -- participants and tokens -----------------------------------------------------------------


def test_participant_directory(env: ApiEnv):
    r = env.client.get("/v1/participants")
    assert r.status_code == 200
    directory = {p["address"]: p for p in r.json()}
    assert directory[env.alice.address] == {
        "address": env.alice.address, "name": "alice", "legal_id": {"scheme": "LEI", "value": "5493001KJTIIGC8Y1R12"},
        "roles": ["provider"],
    }  # fmt: skip
    assert directory[env.operator.address]["roles"] == ["operator"]
    assert set(directory) == {env.operator.address, env.alice.address, env.bob.address, env.regulator.address}


def test_operator_issues_tokens_and_holders_revoke_them(env: ApiEnv):
    r = env.client.post("/v1/tokens", json={"address": env.bob.address, "label": "laptop"}, headers=env.operator.auth)
    assert r.status_code == 201, r.text
    token = r.json()["token"]
    assert r.json() == {"token": token, "address": env.bob.address, "label": "laptop"}
    bob = {"Authorization": f"Bearer {token}"}
    sub = env.submission(env.bob, kind="dataset")  # bob is a consumer: the token works, the role does not
    assert_problem(env.client.post("/v1/records", json=to_json(sub), headers=bob), 422, "invalid-record")
    assert_problem(env.client.request("DELETE", "/v1/tokens", json={"token": token}, headers=env.alice.auth), 403)
    r = env.client.request("DELETE", "/v1/tokens", json={"token": token}, headers=bob)
    assert r.status_code == 204 and r.content == b""
    assert_problem(env.client.get("/v1/records", headers=bob), 401, "unauthorized")
    assert_problem(env.client.request("DELETE", "/v1/tokens", json={"token": token}, headers=env.operator.auth), 404)
    r = env.client.request("DELETE", "/v1/tokens", json={"token": env.alice.token}, headers=env.operator.auth)
    assert r.status_code == 204
    assert_problem(env.client.get("/v1/records", headers=env.alice.auth), 401)


@pytest.mark.parametrize(
    "who, body, status",
    [
        (None, {"address": "bob"}, 401),
        ("alice", {"address": "bob"}, 403),
        ("operator", {"address": "0x" + "12" * 20}, 404),
        ("operator", {"address": "bob", "role": "operator"}, 400),
        ("operator", {"address": 7}, 400),
        ("operator", {"address": "bob", "label": "x" * 201}, 400),
        ("operator", [], 400),
    ],
    ids=["anonymous", "not-operator", "unregistered", "extra-field", "address-not-string", "label-too-long", "array"],
)
def test_issuing_a_token_rejects(shared_env: ApiEnv, who, body, status):
    env = shared_env
    if isinstance(body, dict) and body.get("address") == "bob":
        body = {**body, "address": env.bob.address}
    headers = getattr(env, who).auth if who else {}
    assert_problem(env.client.post("/v1/tokens", json=body, headers=headers), status)


def test_revoking_a_token_rejects_bad_bodies(env: ApiEnv):
    for body in ({}, {"token": ""}, {"token": 1}, {"token": "x", "more": 1}):
        assert_problem(env.client.request("DELETE", "/v1/tokens", json=body, headers=env.operator.auth), 400)
    assert_problem(env.client.request("DELETE", "/v1/tokens", json={"token": "tdsl_x"}), 401)
    r = env.client.request("DELETE", "/v1/tokens", content=b"token=x", headers=env.operator.auth)
    assert_problem(r, 415)


# -- the log and its proofs -------------------------------------------------------------------


def test_log_identity_is_the_one_init_wrote(env: ApiEnv):
    info = env.client.get("/v1/log").json()
    ident = env.identity
    assert info == {
        "origin": ident.origin, "chain_id": ident.chain_id, "contract": ident.contract, "note_key": ident.note_key,
        "operator": ident.operator, "tree_size": env.tree_size(), "checkpoint_size": None,
    }  # fmt: skip
    env.ledger.seal()
    assert env.client.get("/v1/log").json()["checkpoint_size"] == env.tree_size()


def test_checkpoint_is_a_signed_note(store_env: ApiEnv):
    env = store_env
    assert_problem(env.client.get("/v1/checkpoint"), 404, "not-found")
    env.ledger.seal()
    r = env.client.get("/v1/checkpoint")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/plain; charset=utf-8"
    cp = verify_checkpoint(r.text, NoteVerifier.from_text(env.identity.note_key), origin=ORIGIN)
    assert cp.tree_size == env.tree_size()


def test_consistency_and_inclusion_proofs_verify(store_env: ApiEnv):
    env = store_env
    cp1 = env.ledger.seal()
    for i in range(5):
        env.submit(env.alice, env.submission(env.alice, payload=dataset_payload(f"d{i}")))
    cp2 = env.ledger.seal()
    r = env.client.get("/v1/proofs/consistency", params={"from": cp1.tree_size, "to": cp2.tree_size})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["from"], body["to"]) == (cp1.tree_size, cp2.tree_size)
    proof = [bytes.fromhex(h) for h in body["proof"]]
    merkle.verify_consistency(cp1.tree_size, cp2.tree_size, cp1.root_hash, cp2.root_hash, proof)
    assert env.client.get("/v1/proofs/consistency", params={"from": cp1.tree_size}).json() == body
    for index in range(cp2.tree_size):
        r = env.client.get("/v1/proofs/inclusion", params={"leaf_index": index, "tree_size": cp2.tree_size})
        assert r.status_code == 200, r.text
        p = r.json()
        merkle.verify_inclusion(
            bytes.fromhex(p["leaf_hash"]), index, cp2.tree_size, [bytes.fromhex(h) for h in p["proof"]], cp2.root_hash
        )
    assert env.client.get("/v1/proofs/consistency", params={"from": 0, "to": 0}).json()["proof"] == []


@pytest.mark.parametrize(
    "path, params, status",
    [
        ("consistency", {"from": 3, "to": 2}, 400),
        ("consistency", {"from": 1, "to": 99}, 404),
        ("consistency", {"from": 99}, 400),
        ("consistency", {"from": -1, "to": 2}, 400),
        ("consistency", {"from": "a", "to": 2}, 400),
        ("consistency", {"to": 2}, 400),
        ("consistency", {"from": 1, "to": 2**64}, 400),
        ("inclusion", {"leaf_index": 4, "tree_size": 4}, 400),
        ("inclusion", {"leaf_index": 0, "tree_size": 99}, 404),
        ("inclusion", {"leaf_index": -1, "tree_size": 2}, 400),
        ("inclusion", {"leaf_index": 0, "tree_size": 0}, 400),
        ("inclusion", {"tree_size": 2}, 400),
    ],
    ids=lambda v: json.dumps(v) if isinstance(v, dict) else str(v),
)
def test_bad_proof_requests(shared_env: ApiEnv, path, params, status):
    assert shared_env.ledger.seal().tree_size == 4  # operator, alice, bob, regulator
    assert_problem(shared_env.client.get(f"/v1/proofs/{path}", params=params), status)


def test_proofs_need_a_checkpoint(env: ApiEnv):
    assert_problem(env.client.get("/v1/proofs/consistency", params={"from": 0}), 404)
    assert_problem(env.client.get("/v1/proofs/inclusion", params={"leaf_index": 0}), 404)


# -- HTTP errors, docs, health -----------------------------------------------------------------


def test_unknown_route_and_wrong_method_are_problems(env: ApiEnv):
    body = assert_problem(env.client.get("/v1/nope"), 404)
    assert body["type"] == "about:blank"
    r = env.client.put("/v1/records")
    assert_problem(r, 405)
    assert r.headers["allow"] == "GET, POST"  # every method of the path (issue 8), not just the first route's
    assert_problem(env.client.get("/nope/../../etc/passwd"), 404)


def test_unexpected_error_is_a_500_problem_without_internals(env: ApiEnv, monkeypatch, caplog):
    def broken(*_a, **_k):
        raise RuntimeError("secret internals /srv/db password=hunter2")

    monkeypatch.setattr(env.ledger.store, "tree_size", broken)
    with TestClient(env.client.app, raise_server_exceptions=False) as client:
        r = client.get("/v1/log")
    body = assert_problem(r, 500)
    assert "secret" not in r.text and "hunter2" not in r.text
    assert body["detail"] == "internal error; the server log has the details"
    assert "secret internals" in caplog.text  # logged, with its traceback, for the operator


def test_receipt_not_yet_sealed_without_a_signer_is_409(env: ApiEnv):
    sub = env.submission(env.alice)
    env.submit(env.alice, sub)
    env.ledger.note_signer = None  # a replica without the note key cannot seal on demand
    assert_problem(env.client.get(f"/v1/records/{sub.envelope.id}/receipt"), 409, "conflict")


def test_ledger_error_without_a_status_is_500(env: ApiEnv):
    from ledger.errors import LedgerError

    @env.client.app.get("/v1/test-bare-ledger-error")
    def _boom() -> None:
        raise LedgerError("a bare ledger error")

    assert_problem(env.client.get("/v1/test-bare-ledger-error"), 500, "internal")


def test_openapi_documents_the_raw_json_bodies(env: ApiEnv):
    assert env.client.get("/docs").status_code == 200
    spec = env.client.get("/openapi.json").json()
    body = spec["paths"]["/v1/records"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert set(body["required"]) == {"envelope", "payload", "salt"}
    assert "sig" in body["properties"]["envelope"]["properties"]
    batch = spec["paths"]["/v1/records/batch"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert "records" in batch["properties"]
    assert "/v1/tlog/tile/{path}" in spec["paths"]
    assert "HTTPBearer" in spec["components"]["securitySchemes"]


def test_health(env: ApiEnv):
    r = env.client.get("/v1/health")
    assert r.status_code == 200
    assert r.json() == {
        "status": "ok", "sealer": "disabled", "detail": None, "tree_size": env.tree_size(), "checkpoint_size": None,
    }  # fmt: skip


def test_serves_a_data_directory_opened_with_its_keystore(tmp_path):
    settings = Settings(data_dir=tmp_path / "data", keystore_password="correct horse battery staple")
    created, token = init_data_dir(settings, origin=ORIGIN)
    created.store.close()
    ledger = open_data_dir(settings)
    try:
        with TestClient(create_app(ledger, settings, start_sealer=False)) as client:
            assert client.get("/v1/log").json()["operator"] == ledger.log.operator
            operator = {"Authorization": f"Bearer {token}"}
            r = client.post("/v1/tokens", json={"address": ledger.log.operator}, headers=operator)
            assert r.status_code == 201
            record_id = client.get("/v1/records", params={"kind": "participant"}).json()["records"][0]["id"]
            receipt = client.get(f"/v1/records/{record_id}/receipt").json()
        ident = json.loads((tmp_path / "data" / "identity.json").read_text())
        chain = ChainRef(ident["chain_id"], ident["contract"])
        verify_receipt(receipt, origin=ident["origin"], chain=chain, note_key=ident["note_key"])
    finally:
        ledger.store.close()
