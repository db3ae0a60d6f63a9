"""The PACT v3 API at /pact (issue 7 item 6): token, ListFootprints, GetFootprint, Events.

Every answer is checked against the official schemas of ``openapi-3.0.3.yaml`` (list,
get, Error, the two answer events). Tests where the store decides (visibility, index
terms, pagination, statuses, receipts, the answers' access rules) run on SQLite and
PostgreSQL. Answers to RequestCreatedEvents are received by a real HTTPS server on
loopback (``pact_server.Recipient``) that makes the ledger fetch a token from it first.
"""

from __future__ import annotations

import base64
import copy
import json
import logging
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from pact_server import (
    ERROR,
    FULFILLED,
    GET_RESPONSE,
    LIST_RESPONSE,
    REJECTED,
    V3,
    PactWorld,
    Recipient,
    Tls,
    client,
    make_world,
)
from test_api_support import TestClient
from test_pact_models import PACT
from test_pcf import submit

from api.pact.callbacks import HostRule, callback_target, host_rules
from ledger.config import Settings
from ledger.datadir import IDENTITY, Identity
from ledger.errors import ConfigError, MalformedInput
from ledger.verify import ChainRef, verify_receipt

CE = "application/cloudevents+json; charset=UTF-8"
ALL = ("public_de", "nmc", "lfp", "cell", "old", "new", "secret")


@pytest.fixture
def world(tmp_path: Path, database_url: str) -> Iterator[PactWorld]:
    w = make_world(tmp_path, database_url)
    yield w
    w.ledger.store.close()


@pytest.fixture
def sqlite_world(tmp_path: Path, sqlite_url: str) -> Iterator[PactWorld]:
    w = make_world(tmp_path, sqlite_url)
    yield w
    w.ledger.store.close()


@pytest.fixture(scope="module")
def shared_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PactWorld]:
    """One SQLite world for the tests that change nothing but tokens."""
    root = tmp_path_factory.mktemp("pact-api")
    w = make_world(root, f"sqlite:///{root / 'ledger.db'}")
    yield w
    w.ledger.store.close()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def access_token(http: TestClient, w: PactWorld, company) -> str:
    r = http.post("/pact/auth/token", content="grant_type=client_credentials", headers=w.basic(company))
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


def names(w: PactWorld, data: list[dict[str, Any]]) -> list[str]:
    by_id = {fp["id"]: k for k, fp in w.fps.items()}
    return [by_id[d["id"]] for d in data]


def pact_error(r, status: int, code: str) -> str:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/json"
    V3.check(r.json(), ERROR)
    assert r.json()["code"] == code, r.json()
    return r.json()["message"]


def event(type_: str, data: dict[str, Any], **envelope: Any) -> dict[str, Any]:
    return {"specversion": "1.0", "id": str(uuid.uuid4()), "source": "https://recipient.example/pact",
            "time": "2026-11-27T10:00:00Z", "type": f"org.wbcsd.pact.ProductFootprint.{type_}.3", "data": data,
            **envelope}  # fmt: skip


def post_event(http: TestClient, token: str, body: Any, content_type: str = CE):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return http.post("/pact/3/events", content=raw, headers={**bearer(token), "Content-Type": content_type})


# -- Action Authenticate -------------------------------------------------------------------


def test_token_endpoint_issues_expiring_bearer_tokens(sqlite_world: PactWorld):
    w, cells = sqlite_world, sqlite_world.chain.cells
    with client(w) as http:
        r = http.post("/pact/auth/token", content="grant_type=client_credentials", headers=w.basic(cells))
        assert r.status_code == 200, r.text
        body = r.json()
        assert set(body) == {"access_token", "token_type", "expires_in"}
        assert body["token_type"] == "bearer" and body["expires_in"] == w.settings.pact_token_ttl_seconds == 3600
        assert r.headers["cache-control"] == "no-store"
        assert http.get("/pact/3/footprints", headers=bearer(body["access_token"])).status_code == 200
        # client_id in any case; credentials in the body instead of Basic; known scopes echoed
        form = f"grant_type=client_credentials&client_id={cells.address.upper().replace('0X', '0x')}" \
               f"&client_secret={w.secret(cells)}&scope=footprint:list+footprint:read"  # fmt: skip
        r = http.post("/pact/auth/token", content=form, headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert r.status_code == 200 and r.json()["scope"] == "footprint:list footprint:read", r.text
        # an access token is no client secret (only long-lived API tokens are)
        pair = base64.b64encode(f"{cells.address}:{body['access_token']}".encode()).decode()
        r = http.post("/pact/auth/token", content="grant_type=client_credentials",
                      headers={**w.basic(cells), "Authorization": f"Basic {pair}"})  # fmt: skip
        assert r.status_code == 401 and r.json()["error"] == "invalid_client"
        # a form over the size limit is OAuth's invalid_request (the API's one body reader)
        big = "grant_type=client_credentials&pad=" + "x" * 9000
        r = http.post("/pact/auth/token", content=big, headers=w.basic(cells))
        assert r.status_code == 400 and r.json()["error"] == "invalid_request" and "limit" in r.json()["error_description"]


@pytest.mark.parametrize(
    "change, status, error",
    [
        ("wrong secret", 401, "invalid_client"),
        ("another participant's secret", 401, "invalid_client"),
        ("no credentials", 401, "invalid_client"),
        ("Bearer instead of Basic", 401, "invalid_client"),
        ("no grant_type", 400, "invalid_request"),
        ("grant_type password", 400, "unsupported_grant_type"),
        ("JSON body", 400, "invalid_request"),
        ("grant_type twice", 400, "invalid_request"),
        ("Basic and client_secret", 400, "invalid_request"),
        ("unknown scope", 400, "invalid_scope"),
        ("unknown query parameter", 400, "invalid_request"),
    ],
)
def test_token_endpoint_refusals_are_oauth_errors(shared_world: PactWorld, change: str, status: int, error: str):
    w, c = shared_world, shared_world.chain
    headers, form, path = w.basic(c.cells), "grant_type=client_credentials", "/pact/auth/token"
    if change == "wrong secret":
        headers["Authorization"] = "Basic " + base64.b64encode(f"{c.cells.address}:tdsl_nope".encode()).decode()
    elif change == "another participant's secret":
        pair = f"{c.cells.address}:{w.secret(c.stranger)}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
    elif change == "no credentials":
        del headers["Authorization"]
    elif change == "Bearer instead of Basic":
        headers["Authorization"] = f"Bearer {w.secret(c.cells)}"
    elif change == "no grant_type":
        form = "scope=footprint:list"
    elif change == "grant_type password":
        form = "grant_type=password"
    elif change == "JSON body":
        headers["Content-Type"], form = "application/json", '{"grant_type": "client_credentials"}'
    elif change == "grant_type twice":
        form = "grant_type=client_credentials&grant_type=client_credentials"
    elif change == "Basic and client_secret":
        form += f"&client_id={c.cells.address}&client_secret={w.secret(c.cells)}"
    elif change == "unknown scope":
        form += "&scope=footprint:write"
    elif change == "unknown query parameter":
        path += "?grant_type=client_credentials"
    with client(w) as http:
        r = http.post(path, content=form, headers=headers)
    assert r.status_code == status, r.text
    assert r.json()["error"] == error and isinstance(r.json()["error_description"], str)
    if status == 401:
        assert r.headers["www-authenticate"] == 'Basic realm="pact"'


def test_expired_revoked_and_invalid_tokens_are_refused_on_every_action(tmp_path: Path, sqlite_url: str):
    w = make_world(tmp_path, sqlite_url, pact_token_ttl_seconds=1)
    c = w.chain
    pf = w.fps["public_de"]["id"]
    published = event("PublishedEvent", {"pfIds": [pf]})
    with client(w) as http:
        api_token = w.secret(c.cells)  # a long-lived API token works as a bearer token too
        revoked = c.ledger.issue_token(c.cells.address, "revoked")
        c.ledger.revoke_token(revoked, c.viewer(c.cells))
        actions = [
            lambda h: http.get("/pact/3/footprints", headers=h),
            lambda h: http.get(f"/pact/3/footprints/{pf}", headers=h),
            lambda h: http.post("/pact/3/events", content=json.dumps(published), headers={**h, "Content-Type": CE}),
        ]
        for act in actions:
            assert act(bearer(api_token)).status_code == 200
            for headers in ({}, bearer("very-invalid-access-token"), bearer(revoked), {"Authorization": "Basic eDp5"}):
                r = act(headers)
                pact_error(r, 401, "BadRequest")
                assert r.headers["www-authenticate"].startswith('Bearer realm="pact"')
        token = access_token(http, w, c.cells)  # valid for 1 s
        assert actions[0](bearer(token)).status_code == 200
        time.sleep(1.1)
        for act in actions:
            r = act(bearer(token))
            assert "expired" in pact_error(r, 401, "TokenExpired")
            assert 'error="invalid_token"' in r.headers["www-authenticate"]
    w.ledger.store.close()


def test_no_openid_configuration_so_clients_fall_back_to_auth_token(shared_world: PactWorld):
    with client(shared_world) as http:
        pact_error(http.get("/pact/.well-known/openid-configuration"), 404, "NotFound")
        pact_error(http.get("/pact/3/nothing"), 404, "NotFound")
        assert http.get("/v1/nothing").headers["content-type"] == "application/problem+json"  # /v1 unchanged


# -- ListFootprints and GetFootprint: who sees what ---------------------------------------------


VISIBLE = {
    "cathode": {"public_de", "nmc", "lfp", "old", "new"},  # its own and the public ones
    "cells": {"public_de", "nmc", "lfp", "cell", "old", "new"},  # + the cathodes disclosed to it
    "exporter": {"public_de", "old", "new"},  # its own are public
    "stranger": {"public_de", "old", "new", "secret"},
    "regulator": set(ALL),
}


def test_each_caller_is_served_exactly_the_footprints_it_may_read(world: PactWorld):
    c = world.chain
    regulator_token = c.ledger.issue_token(c.regulator.address, "regulator")
    tokens = {co: world.secret(getattr(c, co)) for co in ("cathode", "cells", "exporter", "stranger")}
    tokens["regulator"] = regulator_token
    with client(world) as http:
        for who, token in tokens.items():
            r = http.get("/pact/3/footprints", headers=bearer(token))
            assert r.status_code == 200, r.text
            V3.check(r.json(), LIST_RESPONSE)
            got = names(world, r.json()["data"])
            assert got == [k for k in ALL if k in VISIBLE[who]], who  # in log order
            for key in ALL:
                g = http.get(f"/pact/3/footprints/{world.fps[key]['id']}", headers=bearer(token))
                if key in VISIBLE[who]:
                    assert g.status_code == 200, (who, key, g.text)
                    V3.check(g.json(), GET_RESPONSE)
                else:  # exactly as a footprint that does not exist
                    missing = http.get(f"/pact/3/footprints/{uuid.UUID(int=7)}", headers=bearer(token))
                    hidden, absent = pact_error(g, 404, "NotFound"), pact_error(missing, 404, "NotFound")
                    assert hidden.replace(world.fps[key]["id"], "ID") == absent.replace(str(uuid.UUID(int=7)), "ID")


def test_served_footprint_is_the_signed_payload_with_the_derived_status(world: PactWorld):
    c = world.chain
    with client(world) as http:
        token = access_token(http, world, c.exporter)
        data = http.get("/pact/3/footprints", headers=bearer(token)).json()["data"]
        by_name = dict(zip(names(world, data), data))
        assert by_name["old"]["status"] == "Deprecated" and by_name["new"]["status"] == "Active"
        for key, served in by_name.items():
            signed = world.fps[key]
            unsigned = {k: v for k, v in served.items() if k != "status"}
            assert unsigned == {k: v for k, v in signed.items() if k != "status"}
        one = http.get(f"/pact/3/footprints/{world.fps['old']['id']}", headers=bearer(token)).json()
        assert one["data"]["status"] == "Deprecated"
        # the receipt keeps the status the payload was signed with
        receipt = http.get(one["x-tdsl-receipts"][world.fps["old"]["id"]], headers=bearer(token)).json()
        assert receipt["payload"]["status"] == "Active"


def test_each_receipt_link_resolves_to_a_verifying_receipt(world: PactWorld):
    c = world.chain
    ident = Identity.from_file(world.settings.data_dir / IDENTITY)
    with client(world) as http:
        token = access_token(http, world, c.cells)
        body = http.get("/pact/3/footprints", headers=bearer(token)).json()
        links = body["x-tdsl-receipts"]
        assert set(links) == {fp["id"] for fp in body["data"]}
        for fp in body["data"]:
            assert links[fp["id"]] == f"http://testserver/v1/records/{fp['id']}/receipt"
            r = http.get(links[fp["id"]], headers=bearer(token))
            assert r.status_code == 200, r.text
            receipt = r.json()
            verify_receipt(receipt, origin=ident.origin, chain=ChainRef(ident.chain_id, ident.contract),
                           note_key=ident.note_key)  # fmt: skip
            assert receipt["payload"]["id"] == fp["id"]
        one = http.get(f"/pact/3/footprints/{world.fps['nmc']['id']}", headers=bearer(token)).json()
        assert one["x-tdsl-receipts"] == {world.fps["nmc"]["id"]: links[world.fps["nmc"]["id"]]}


def test_erased_and_v2_footprints_are_not_served(world: PactWorld):
    c = world.chain
    v2 = json.loads((PACT / "v2" / "get-footprint-response.json").read_text())["data"]
    v2 = copy.deepcopy(v2) | {"id": str(uuid.uuid4())}
    submit(c, c.cathode, v2, visibility="public")
    c.ledger.erase(world.fps["nmc"]["id"], c.viewer(c.cathode))
    with client(world) as http:
        token = access_token(http, world, c.cells)
        ids = [fp["id"] for fp in http.get("/pact/3/footprints", headers=bearer(token)).json()["data"]]
        assert world.fps["nmc"]["id"] not in ids and v2["id"] not in ids and world.fps["lfp"]["id"] in ids
        for pf in (world.fps["nmc"]["id"], v2["id"]):
            pact_error(http.get(f"/pact/3/footprints/{pf}", headers=bearer(token)), 404, "NotFound")


def test_malformed_ids_and_unknown_parameters_are_pact_bad_requests(shared_world: PactWorld):
    w = shared_world
    with client(w) as http:
        token = access_token(http, w, w.chain.cells)
        pf = w.fps["public_de"]["id"]
        bad = ("/pact/3/footprints/not-a-uuid", f"/pact/3/footprints/{pf}x", "/pact/3/footprints?offset=2",
               f"/pact/3/footprints/{pf}?limit=1", "/pact/3/footprints?$filter=created", "/pact/3/footprints?limit=0",
               "/pact/3/footprints?limit=ten", "/pact/3/footprints?x-tdsl-cursor=bm9wZQ",
               "/pact/3/footprints?validOn=2026-01-01",
               "/pact/3/footprints?validOn=2026-01-01T00:00:00Z&validOn=2027-01-01T00:00:00Z")  # fmt: skip
        for path in bad:
            pact_error(http.get(path, headers=bearer(token)), 400, "BadRequest")
        message = pact_error(http.get("/pact/3/footprints?productid=x", headers=bearer(token)), 400, "BadRequest")
        assert "'productid'" in message and "productId" in message
        # an unencoded '+' in an offset arrives as a space: the message says so
        message = pact_error(http.get("/pact/3/footprints?validOn=2026-01-01T00:00:00+00:00", headers=bearer(token)),
                             400, "BadRequest")  # fmt: skip
        assert "%2B" in message
        r = http.post("/pact/3/events?x=1", content=json.dumps(event("PublishedEvent", {"pfIds": [pf]})),
                      headers={**bearer(token), "Content-Type": CE})  # fmt: skip
        assert "'x'" in pact_error(r, 400, "BadRequest")


# -- filters and pagination ---------------------------------------------------------------


FILTERS = [
    ("productId=urn:gtin:4012345000061", {"old", "new"}),
    ("productId=urn:gtin:4012345000061&productId=urn:gtin:4012345000016", {"old", "new", "nmc"}),
    ("productId=urn:gtin:4012345000061&productId=urn:bogus:x&productId=", {"old", "new"}),
    ("productId=urn:gtin:4012345000085", {"new"}),
    ("companyId={cathode}", {"nmc", "lfp"}),
    ("companyId={cathode}&companyId=abcdEFGH&companyId={stranger}", {"nmc", "lfp", "secret"}),
    ("companyId={cathode}&productId=urn:gtin:4012345000016", {"nmc"}),
    ("companyId={stranger}&productId=urn:gtin:4012345000016", set()),
    ("geography=DE", {"public_de", "secret"}),
    ("geography=fr&geography=cn", {"nmc", "old", "new"}),
    ("geography=", set(ALL)),
    ("geography=XX", set()),
    ("classification=urn:eclass:0173-1-01-CAT001-001", {"nmc"}),
    ("classification=URN:ECLASS:0173-1-01-AAA123-005", {"public_de", "old", "new", "secret"}),
    # validity: public_de, nmc, old, new, secret 2026-01-01..2028-12-31; lfp and cell have none,
    # so theirs is the reference period end 2026-01-01 .. + 3 years = 2029-01-01
    ("validOn=2027-06-01T00:00:00Z", set(ALL)),
    ("validOn=2026-01-01T00:00:00Z", set(ALL)),  # start inclusive
    ("validOn=2028-12-31T00:00:00Z", set(ALL)),  # end inclusive
    ("validOn=2028-12-31T12:00:00Z", {"lfp", "cell"}),
    ("validOn=1900-01-01T00:00:00Z", set()),
    ("validAfter=2025-12-31T23:59:59Z", set(ALL)),
    ("validAfter=2026-01-01T00:00:00Z", set()),  # validity start > validAfter
    ("validBefore=2029-01-01T00:00:00Z", {"public_de", "nmc", "old", "new", "secret"}),  # validity end < validBefore
    ("validBefore=2029-01-01T00:00:00.000001Z", set(ALL)),
    ("validBefore=2028-12-31T00:00:00Z", set()),
    ("status=Deprecated", {"old"}),
    ("status=active", set(ALL) - {"old"}),
    ("status=Active&status=Deprecated", set(ALL)),
    ("status=BogusStatus", set()),
    ("status=Active&productId=urn:gtin:4012345000061", {"new"}),
    ("status=Deprecated&geography=FR&validOn=2027-01-01T00:00%3A00%2B01:00", {"old"}),
]


@pytest.mark.parametrize("query, expected", FILTERS, ids=[q for q, _ in FILTERS])
def test_filters(shared_world: PactWorld, query: str, expected: set[str]):
    w, c = shared_world, shared_world.chain
    query = query.format(cathode=c.cathode.company_id, stranger=c.stranger.company_id)
    token = c.ledger.issue_token(c.regulator.address, "regulator")
    with client(w) as http:
        r = http.get(f"/pact/3/footprints?{query}", headers=bearer(token))
    assert r.status_code == 200, r.text
    V3.check(r.json(), LIST_RESPONSE)
    assert set(names(w, r.json()["data"])) == expected


def test_term_filters_and_access_rules_on_both_stores(world: PactWorld):
    c = world.chain
    with client(world) as http:
        token = access_token(http, world, c.stranger)
        q = f"companyId={c.cathode.company_id}&companyId={c.stranger.company_id}"
        assert names(world, http.get(f"/pact/3/footprints?{q}", headers=bearer(token)).json()["data"]) == ["secret"]
        q = "productId=urn:gtin:4012345000016&productId=urn:gtin:4012345000078&productId=urn:gtin:4012345000061"
        assert names(world, http.get(f"/pact/3/footprints?{q}", headers=bearer(token)).json()["data"]) == \
            ["old", "new", "secret"]  # fmt: skip
        # a footprint filed under two of the products asked for is served once
        q = "productId=urn:gtin:4012345000085&productId=urn:gtin:4012345000061&limit=1"
        first = http.get(f"/pact/3/footprints?{q}", headers=bearer(token))
        assert names(world, first.json()["data"]) == ["old"]
        link = first.headers["link"][1:first.headers["link"].index(">")]
        second = http.get(link, headers=bearer(token))
        assert names(world, second.json()["data"]) == ["new"] and "link" not in second.headers


@pytest.mark.parametrize(
    "query", ["", "geography=FR&geography=DE", "productId=urn:gtin:4012345000061&productId=urn:gtin:4012345000054"]
)
def test_pagination_follows_link_headers_to_the_whole_list(world: PactWorld, query: str):
    c = world.chain
    token = c.ledger.issue_token(c.regulator.address, "regulator")
    with client(world) as http:
        whole = http.get(f"/pact/3/footprints?{query}", headers=bearer(token))
        assert "link" not in whole.headers
        expected = [fp["id"] for fp in whole.json()["data"]]
        assert len(expected) >= 3
        url, seen, pages = f"/pact/3/footprints?{query}&limit=1", [], 0
        while url is not None:
            r = http.get(url, headers={**bearer(token), "Host": "ledger.example:8443"})
            assert r.status_code == 200, r.text
            V3.check(r.json(), LIST_RESPONSE)
            assert len(r.json()["data"]) == 1
            seen += [fp["id"] for fp in r.json()["data"]]
            pages += 1
            link = r.headers.get("link")
            if link is None:
                url = None
                continue
            target, rel = link.split(">; ")
            assert rel == 'rel="next"' and target.startswith("<http://ledger.example:8443/pact/3/footprints?")
            url = target[1:]
            params = parse_qsl(urlsplit(url).query, keep_blank_values=True)
            assert [p for p in params if p[0] != "x-tdsl-cursor"] == parse_qsl(f"{query}&limit=1")
            again = http.get(url, headers=bearer(token))  # a pagination link can be called more than once
            assert again.json()["data"] == http.get(url, headers=bearer(token)).json()["data"]
        assert seen == expected and pages == len(expected)
        big = http.get(f"/pact/3/footprints?{query}&limit=100000", headers=bearer(token))
        assert [fp["id"] for fp in big.json()["data"]] == expected


# -- Action Events --------------------------------------------------------------------------


def _bad_events(pf: str) -> list[tuple[str, Any, str]]:
    ok = event("PublishedEvent", {"pfIds": [pf]})
    created = event("RequestCreatedEvent", {"productId": ["urn:gtin:4012345000016"]})
    return [
        ("PublishedEvent with a URN in pfIds", event("PublishedEvent", {"pfIds": ["urn:gtin:4712345060507"]}), CE),
        ("PublishedEvent with no pfIds", event("PublishedEvent", {"pfIds": []}), CE),
        ("unknown type", ok | {"type": "org.wbcsd.pact.ProductFootprint.DeletedEvent.3"}, CE),
        ("a v2 type", ok | {"type": "org.wbcsd.pathfinder.ProductFootprint.Published.v1"}, CE),
        ("specversion 0.3", ok | {"specversion": "0.3"}, CE),
        ("no time", {k: v for k, v in ok.items() if k != "time"}, CE),
        ("time not RFC 3339", ok | {"time": "yesterday"}, CE),
        ("empty id", ok | {"id": ""}, CE),
        ("no source", {k: v for k, v in ok.items() if k != "source"}, CE),
        ("data not an object", ok | {"data": [pf]}, CE),
        ("data_base64", ok | {"data_base64": "e30="}, CE),
        ("bad extension attribute name", ok | {"Trace-Id": "x"}, CE),
        ("datacontenttype XML", ok | {"datacontenttype": "application/xml"}, CE),
        ("an array", [ok], CE),
        ("duplicate key", b'{"specversion": "1.0", "specversion": "1.0"}', CE),
        ("not JSON", b"{nope", CE),
        ("application/json", ok, "application/json"),
        ("latin-1", ok, "application/cloudevents+json; charset=ISO-8859-1"),
        ("RequestCreatedEvent without criteria", event("RequestCreatedEvent", {"comment": "all please"}), CE),
        ("RequestCreatedEvent with an unknown criterion", event("RequestCreatedEvent", {"x-atq-invoice-id": "1"}), CE),
        ("RequestCreatedEvent with a string productId", event("RequestCreatedEvent", {"productId": "urn:x:y"}), CE),
        ("RequestCreatedEvent with a bad validOn", event("RequestCreatedEvent", {"validOn": "2026"}), CE),
        ("RequestCreatedEvent from a host not allowed", created, CE),
        ("RequestCreatedEvent from plain http", created | {"source": "http://127.0.0.1:9/pact"}, CE),
        ("RequestFulfilledEvent with no pfs", event("RequestFulfilledEvent", {"requestEventId": "1", "pfs": []}), CE),
        ("RequestFulfilledEvent with a bad footprint",
         event("RequestFulfilledEvent", {"requestEventId": "1", "pfs": [{"id": pf, "specVersion": "3.0.0"}]}), CE),
        ("RequestRejectedEvent with an unknown code",
         event("RequestRejectedEvent", {"requestEventId": "1", "error": {"code": "Nope", "message": "m"}}), CE),
    ]  # fmt: skip


def test_events_are_validated(shared_world: PactWorld):
    w = shared_world
    pf = w.fps["public_de"]["id"]
    with client(w) as http:
        token = access_token(http, w, w.chain.cells)
        for what, body, content_type in _bad_events(pf):
            r = post_event(http, token, body, content_type)
            assert r.status_code == 400, (what, r.text)
            pact_error(r, 400, "BadRequest")
        pact_error(post_event(http, token, b"{" + b" " * w.settings.max_body_bytes + b"}"), 413, "BadRequest")
        fulfilled = event("RequestFulfilledEvent", {"requestEventId": "1", "pfs": [w.fps["public_de"]]})
        rejected = event("RequestRejectedEvent", {"requestEventId": "1", "error": {"code": "NotFound", "message": "m"}})
        accepted = [event("PublishedEvent", {"pfIds": [pf, str(uuid.uuid4())]}), fulfilled, rejected,
                    event("PublishedEvent", {"pfIds": [pf]}, traceparent="00-x", subject="s",
                          datacontenttype="application/json")]  # fmt: skip
        for body in accepted:
            r = post_event(http, token, body)
            assert r.status_code == 200 and r.content == b"", r.text


@pytest.fixture
def tls(tmp_path: Path) -> Tls:
    return Tls.make(tmp_path / "tls")


def _answering_world(tmp_path: Path, url: str, tls: Tls, recipient: Recipient, **settings: Any) -> PactWorld:
    return make_world(tmp_path, url, pact_callback_hosts=[f"127.0.0.1:{recipient.port}"],
                      pact_callback_credentials=recipient.credentials, pact_callback_ca_file=tls.ca_file,
                      **settings)  # fmt: skip


def test_request_created_is_answered_with_what_the_requester_may_read(tmp_path: Path, database_url: str, tls: Tls):
    with Recipient(tls) as recipient:
        w = _answering_world(tmp_path, database_url, tls, recipient)
        c, nmc = w.chain, w.fps["nmc"]
        try:
            with client(w) as http:
                cells, stranger = access_token(http, w, c.cells), access_token(http, w, c.stranger)
                asked = event("RequestCreatedEvent", {"productId": nmc["productIds"], "comment": "please"},
                              source=recipient.base)  # fmt: skip
                denied = asked | {"id": str(uuid.uuid4())}  # the same request by a company nmc is private to
                none = event("RequestCreatedEvent", {"productId": ["urn:pact:null"]},
                             source=recipient.base + "/3/events/")  # the endpoint itself, as in the spec's examples
                for token, body in ((cells, asked), (stranger, denied), (cells, none)):
                    r = post_event(http, token, body)
                    assert r.status_code == 200 and r.content == b"", r.text
                assert post_event(http, cells, asked).status_code == 200  # sent again: answered once

                got = recipient.wait_for(asked["id"])
                assert got.path == "/recipient/3/events" and got.headers["content-type"] == CE
                assert got.headers["authorization"][7:] in recipient.tokens  # the recipient's own token
                answer = got.body
                V3.check(answer, FULFILLED)
                assert answer["type"] == "org.wbcsd.pact.ProductFootprint.RequestFulfilledEvent.3"
                assert answer["source"] == "http://testserver/pact/3/events"
                assert answer["data"]["pfs"] == [nmc]  # served form: status Active, nothing else changed
                receipt = f"http://testserver/v1/records/{nmc['id']}/receipt"
                assert answer["data"]["x-tdsl-receipts"] == {nmc["id"]: receipt}
                for request in (denied, none):
                    rejected = recipient.wait_for(request["id"]).body
                    V3.check(rejected, REJECTED)
                    assert rejected["data"]["error"]["code"] == "NotFound"
                time.sleep(0.3)
                assert [e.body["data"]["requestEventId"] for e in recipient.events].count(asked["id"]) == 1
                assert len(recipient.events) == 3 and recipient.refused == []
        finally:
            w.ledger.store.close()


def test_a_failed_delivery_is_retried_with_backoff(tmp_path: Path, sqlite_url: str, tls: Tls):
    with Recipient(tls, fail_first=(503, 500)) as recipient:
        w = _answering_world(tmp_path, sqlite_url, tls, recipient, pact_callback_backoff_seconds=0.05)
        try:
            with client(w) as http:
                token = access_token(http, w, w.chain.exporter)
                asked = event("RequestCreatedEvent", {"geography": ["FR"], "status": "Active"}, source=recipient.base)
                started = time.monotonic()
                assert post_event(http, token, asked).status_code == 200
                answer = recipient.wait_for(asked["id"]).body
                assert time.monotonic() - started >= 0.15  # waited 0.05 s, then 0.1 s
                assert [pf["id"] for pf in answer["data"]["pfs"]] == [w.fps["new"]["id"]]
                assert len(recipient.refused) == 2
        finally:
            w.ledger.store.close()


def test_a_delivery_that_keeps_failing_is_given_up_and_logged(tmp_path: Path, sqlite_url: str, tls: Tls, caplog):
    with Recipient(tls, fail_first=(502, 502, 502)) as recipient:
        w = _answering_world(tmp_path, sqlite_url, tls, recipient, pact_callback_backoff_seconds=0.01,
                             pact_callback_attempts=2)  # fmt: skip
        try:
            with caplog.at_level(logging.INFO, logger="api.pact"), client(w) as http:
                token = access_token(http, w, w.chain.exporter)
                asked = event("RequestCreatedEvent", {"productId": ["urn:pact:null"]}, source=recipient.base)
                assert post_event(http, token, asked).status_code == 200
                deadline = time.monotonic() + 10
                while not any("gave up" in r.getMessage() for r in caplog.records):
                    assert time.monotonic() < deadline, [r.getMessage() for r in caplog.records]
                    time.sleep(0.02)
            assert recipient.events == [] and len(recipient.refused) == 2
            gave_up = next(r for r in caplog.records if "gave up" in r.getMessage())
            assert gave_up.levelno == logging.ERROR and asked["id"] in gave_up.getMessage()
        finally:
            w.ledger.store.close()


def test_a_recipient_that_refuses_the_credentials_gets_no_answer_but_a_log(tmp_path: Path, sqlite_url: str, tls: Tls,
                                                                           caplog):  # fmt: skip
    with Recipient(tls) as recipient:
        # no credentials for this recipient: the event is sent without a token
        w = make_world(tmp_path, sqlite_url, pact_callback_hosts=[f"127.0.0.1:{recipient.port}"],
                       pact_callback_ca_file=tls.ca_file)  # fmt: skip
        try:
            with caplog.at_level(logging.INFO, logger="api.pact"), client(w) as http:
                token = access_token(http, w, w.chain.exporter)
                asked = event("RequestCreatedEvent", {"productId": ["urn:pact:null"]}, source=recipient.base)
                assert post_event(http, token, asked).status_code == 200
                deadline = time.monotonic() + 10
                while not any("refused with 401" in r.getMessage() for r in caplog.records):
                    assert time.monotonic() < deadline
                    time.sleep(0.02)
            assert len(recipient.refused) == 1 and "authorization" not in recipient.refused[0].headers
        finally:
            w.ledger.store.close()


def test_callback_targets_and_host_rules():
    rules = host_rules(["recipient.example", "*.pact.example:8443", "[::1]:9443", "127.0.0.1:4443"])
    t = callback_target("https://recipient.example/pact", rules)
    assert (t.events_url, t.base_url) == ("https://recipient.example/pact/3/events", "https://recipient.example/pact")
    t = callback_target("//recipient.example/pact/3/events", rules)  # the spec's examples: the endpoint itself
    assert t.events_url == "https://recipient.example/pact/3/events"
    assert callback_target("https://a.pact.example:8443", rules).events_url == "https://a.pact.example:8443/3/events"
    assert callback_target("https://[::1]:9443/x/", rules).events_url == "https://[::1]:9443/x/3/events"
    for refused in ("http://recipient.example/pact", "https://evil.example/", "https://pact.example:8443/",
                    "https://a.pact.example/", "https://127.0.0.1:4444/", "https://u@recipient.example/",
                    "https://recipient.example/?x=1", "ftp://recipient.example/", "https://recipient.example:99999/",
                    "recipient.example/pact", "https://169.254.169.254/latest"):  # fmt: skip
        with pytest.raises(MalformedInput):
            callback_target(refused, rules)
    for bad in ("", "host:port", "[::1]:0"):
        with pytest.raises(ConfigError):
            HostRule.parse(bad)
    with pytest.raises(MalformedInput, match="TDSL_PACT_CALLBACK_HOSTS"):
        callback_target("https://recipient.example/", host_rules(Settings().pact_callback_hosts))  # default: none
