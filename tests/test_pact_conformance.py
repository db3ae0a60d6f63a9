"""The PACT conformance tool's 41 V3 test cases, as pytest cases, over HTTPS on loopback.

The cases are data: ``../shared/vectors/pact/conformance/v3-test-cases.json`` (transcribed
from wbcsd/pact-conformance-service; ``NOTES.md`` beside it says how the tool runs them).
Each case is sent as the tool sends it — its method, URL template, headers (the defaults
``Content-Type: application/json`` and ``Authorization: Bearer <token of case 1>``,
overridden by the case's), body and placeholders — and judged as the tool judges it: the
expected status, the case's check, and the tool's schema (``openapi_v3_0.yaml``, 3.0.4).

The server under test is the whole app (``api.create_app``) under uvicorn with a ``trustme``
certificate on a free port, so the plain-HTTP cases (9, 10, 11, 17) really talk HTTP to a
TLS-only port and must fail. The token endpoint is found as the tool finds it (the OpenID
configuration first, then ``<base>/auth/token``). The tool's webhook is a real HTTPS server
of this test (``pact_server.Recipient``), with its own token endpoint the ledger must use:
cases 13 and 14.B pass only when the ledger's answer to 12 and 14.A arrives there.

Cases 18 and 19 (optional, OpenID Connect) are not applicable: the ledger serves no OpenID
Provider Configuration Document (docs/pact.md says why).
"""

from __future__ import annotations

import base64
import copy
import json
import random
import string
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from pact_server import (
    CONFORMANCE,
    ERROR,
    FULFILLED,
    GET_RESPONSE,
    LIST_RESPONSE,
    REJECTED,
    PactWorld,
    Recipient,
    Tls,
    make_world,
    serve,
)
from test_pact_models import PACT

CASES_FILE = PACT / "conformance" / "v3-test-cases.json"
CASES: list[dict[str, Any]] = json.loads(CASES_FILE.read_text(encoding="utf-8"))["cases"]
NOT_APPLICABLE = {
    "18": "optional OpenID Connect flow: the ledger serves no OpenID Provider Configuration Document",
    "19": "optional OpenID Connect flow: the ledger serves no OpenID Provider Configuration Document",
}
TIMEOUT = 5.0  # the tool's TESTCASE_TIMEOUT


def _rand(n: int) -> str:
    return "".join(random.choices(string.ascii_letters + string.digits, k=n))


def _iso_js(t: datetime) -> str:
    """``Date.prototype.toISOString``: what the tool puts in a query."""
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def _date(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass
class Outcome:
    response: httpx.Response | None
    error: Exception | None = None


@dataclass
class Run:
    """One run of the tool against one server: its token, the first footprint, the sent cases."""

    base: str
    tls: Tls
    recipient: Recipient
    client_id: str
    client_secret: str
    test_run_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    outcomes: dict[str, Outcome] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.http = httpx.Client(verify=self.tls.client_context(), timeout=TIMEOUT)
        self.cases = {c["key"]: c for c in CASES}

    @cached_property
    def token_url(self) -> str:
        r = self.http.get(f"{self.base}/.well-known/openid-configuration")
        try:
            found = r.json().get("token_endpoint") if r.is_success else None
        except ValueError:
            found = None
        return found if isinstance(found, str) else f"{self.base}/auth/token"

    @cached_property
    def http_base(self) -> str:
        return self.base.replace("https", "http", 1)

    @cached_property
    def token(self) -> str:
        r = self.outcome("1").response
        assert r is not None and r.status_code == 200, "case 1 gave no token"
        return r.json()["access_token"]

    @cached_property
    def first_list(self) -> list[dict[str, Any]]:
        r = self.http.get(f"{self.base}/3/footprints", headers={"Authorization": f"Bearer {self.token}"})
        data = r.json()["data"]
        assert data, "the run aborts: GET /3/footprints listed no footprint"
        return data

    @property
    def fp(self) -> dict[str, Any]:
        return self.first_list[0]

    @cached_property
    def validity(self) -> tuple[datetime, datetime]:
        fp = self.fp
        if fp.get("validityPeriodStart") and fp.get("validityPeriodEnd"):
            return _date(fp["validityPeriodStart"]), _date(fp["validityPeriodEnd"])
        end = _date(fp["pcf"]["referencePeriodEnd"])
        return end, end.replace(year=end.year + 3)

    # -- placeholders ------------------------------------------------------------------

    def value(self, name: str) -> Any:
        """A placeholder's value (the first footprint's only when asked: case 1 comes before it)."""
        run = {"base": self.base, "http_base": self.http_base, "token_url": self.token_url,
               "webhook": self.recipient.base, "testRunId": self.test_run_id, "rand8": _rand(8), "rand16": _rand(16),
               "uuid": str(uuid.uuid4()), "now": _iso_js(datetime.now(UTC))}  # fmt: skip
        if name in run:
            return run[name]
        fp, (start, end) = self.fp, self.validity
        pcf = fp["pcf"]
        return {
            "fp.id": lambda: fp["id"],
            "fp.productIds": lambda: fp["productIds"],
            "fp.productIds[0]": lambda: fp["productIds"][0],
            "fp.companyIds[0]": lambda: fp["companyIds"][0],
            "fp.geography": lambda: pcf.get("geographyCountry") or pcf.get("geographyRegionOrSubregion")
            or pcf.get("geographyCountrySubdivision") or "",
            "fp.productClassifications[0]": lambda: (fp.get("productClassifications") or [""])[0],
            "fp.status": lambda: fp["status"],
            "validOn": lambda: _iso_js(start),
            "validOn - 1 day": lambda: _iso_js(start - timedelta(days=1)),
            "validityPeriodEnd + 1 day": lambda: _iso_js(end + timedelta(days=1)),
        }[name]()  # fmt: skip

    def render(self, value: Any, *, in_query: bool = False) -> Any:
        if isinstance(value, dict):
            return {k: self.render(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.render(v) for v in value]
        if not isinstance(value, str):
            return value
        if value == "{fp.productIds}":
            return self.value("fp.productIds")  # the array itself
        out, rest = "", value
        while "{" in rest:
            head, _, tail = rest.partition("{")
            name, _, rest = tail.partition("}")
            got = str(self.value(name))
            out += head + (quote(got, safe=":") if in_query and "?" in out + head else got)
        return out + rest

    # -- running a case ----------------------------------------------------------------

    def request(self, key: str) -> tuple[str, str, dict[str, str], Any]:
        case = self.cases[key]
        if key == "5":
            r = self.http.get(f"{self.base}/3/footprints?limit=1", headers={"Authorization": f"Bearer {self.token}"})
            link = r.headers.get("link", "")
            assert link.startswith("<") and 'rel="next"' in link, f"no pagination Link header: {link!r}"
            url = link[1:link.index(">")]
        elif key == "9":
            url = self.token_url.replace("https", "http", 1)
        elif key in ("18", "19"):
            url = self.token_url
        else:
            url = self.render(case["url"], in_query=True)
        headers = {"Content-Type": "application/json"}
        if key not in ("1", "2", "9", "18", "19"):
            headers["Authorization"] = f"Bearer {self.token}"
        for name, value in (case.get("headers") or {}).items():
            if value.startswith("Basic base64("):
                pair = value[len("Basic base64("):-1]
                pair = f"{self.client_id}:{self.client_secret}" if pair == "clientId:clientSecret" else \
                    f"{_rand(16)}:{_rand(16)}"  # fmt: skip
                value = "Basic " + base64.b64encode(pair.encode()).decode()
            headers[name] = self.render(value)
        body = case.get("body")
        if isinstance(body, str) and body.startswith("grant_type=client_credentials"):
            body = "grant_type=client_credentials"
        elif isinstance(body, str) and body.startswith("as 15 with id "):
            body = copy.deepcopy(self.cases["15"]["body"]) | {"id": body.split("'")[1]}
        return case["method"], url, headers, self.render(body) if body is not None else None

    def outcome(self, key: str) -> Outcome:
        if key not in self.outcomes:
            method, url, headers, body = self.request(key)
            content = body.encode() if isinstance(body, str) else None if body is None else json.dumps(body).encode()
            try:
                r = self.http.request(method, url, headers=headers, content=content)
                self.outcomes[key] = Outcome(r)
            except httpx.HTTPError as e:
                self.outcomes[key] = Outcome(None, e)
        return self.outcomes[key]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    root: Path = tmp_path_factory.mktemp("pact-conformance")
    tls = Tls.make(root / "tls")
    with Recipient(tls, prefix="") as recipient:
        world: PactWorld = make_world(
            root / "data", f"sqlite:///{root / 'ledger.db'}", pact_callback_hosts=[f"127.0.0.1:{recipient.port}"],
            pact_callback_credentials=recipient.credentials, pact_callback_ca_file=tls.ca_file,
        )  # fmt: skip
        # The tool logs in as the cell maker: it sees the public footprints, its own, and the
        # cathode supplier's disclosed to it; not the stranger's.
        cells = world.chain.cells
        try:
            with serve(world.app, tls) as root_url:
                r = Run(f"{root_url}/pact", tls, recipient, cells.address, world.secret(cells))
                yield r
                r.http.close()
        finally:
            world.ledger.store.close()


def _ids(items: list[dict[str, Any]]) -> list[str]:
    assert all(isinstance(i, dict) and isinstance(i.get("id"), str) for i in items), "an item without id"
    return [i["id"] for i in items]


def _filtered(check: Callable[[Run, dict[str, Any]], bool]) -> Callable[[Run, httpx.Response], None]:
    def verify(run: Run, r: httpx.Response) -> None:
        data = r.json()["data"]
        assert _ids(data), "data must have at least one item"
        bad = [i["id"] for i in data if not check(run, i)]
        assert not bad, f"items that do not match the filter: {bad}"

    return verify


def _empty(run: Run, r: httpx.Response) -> None:
    assert r.json() == {"data": [], "x-tdsl-receipts": {}}


def _geo(i: dict[str, Any]) -> set[str]:
    pcf = i.get("pcf", {})
    return {pcf.get(k) for k in ("geographyCountry", "geographyRegionOrSubregion", "geographyCountrySubdivision")}


def _token_ok(run: Run, r: httpx.Response) -> None:
    body = r.json()
    assert isinstance(body["access_token"], str) and body["token_type"].lower() == "bearer" and body["expires_in"] > 0


def _get_ok(run: Run, r: httpx.Response) -> None:
    CONFORMANCE.check(r.json(), GET_RESPONSE)
    assert r.json()["data"]["id"] == run.fp["id"]


def _list_ok(run: Run, r: httpx.Response) -> None:
    CONFORMANCE.check(r.json(), LIST_RESPONSE)
    assert len(r.json()["data"]) == len(run.first_list)


def _bad_token(run: Run, r: httpx.Response) -> None:
    assert r.json()["code"] == "BadRequest"  # the tool only warns otherwise; we mean it


def _within(run: Run, i: dict[str, Any], check: Callable[[datetime, datetime], bool]) -> bool:
    start, end = i.get("validityPeriodStart"), i.get("validityPeriodEnd")
    if not (start and end):
        ref = _date(i["pcf"]["referencePeriodEnd"])
        start_t, end_t = ref, ref.replace(year=ref.year + 3)
    else:
        start_t, end_t = _date(start), _date(end)
    return check(start_t, end_t)


CHECKS: dict[str, Callable[[Run, httpx.Response], None]] = {
    "1": _token_ok,
    "2": lambda run, r: r.json()["error"] == "invalid_client" or pytest.fail(r.text),
    "3": _get_ok,
    "4": _list_ok,
    "5": lambda run, r: _ids(r.json()["data"]) or pytest.fail("the next page is empty"),
    "6": _bad_token,
    "7": _bad_token,
    "8": lambda run, r: r.json()["code"] in ("NotFound", "BadRequest") or pytest.fail(r.text),
    "16": _bad_token,
    "20": _filtered(lambda run, i: run.fp["productIds"][0] in i["productIds"]),
    "21": _filtered(lambda run, i: run.fp["companyIds"][0] in i["companyIds"]),
    "22": _filtered(lambda run, i: run.value("fp.geography") in _geo(i)),
    "23": _filtered(lambda run, i: run.value("fp.productClassifications[0]") in i.get("productClassifications", [])),
    "24": _filtered(lambda run, i: _within(run, i, lambda s, e: s <= run.validity[0] <= e)),
    "25": _filtered(lambda run, i: _within(run, i, lambda s, e: s > run.validity[0] - timedelta(days=1))),
    "26": _filtered(lambda run, i: _within(run, i, lambda s, e: e < run.validity[1] + timedelta(days=1))),
    "27": _filtered(lambda run, i: i["status"] == run.fp["status"]),
    "28": _filtered(lambda run, i: i["status"] == run.fp["status"] and run.fp["productIds"][0] in i["productIds"]),
    "29": _filtered(lambda run, i: run.fp["companyIds"][0] in i["companyIds"]),
    **{str(k): _empty for k in range(30, 40)},
}


def _succeeded(case: dict[str, Any], outcome: Outcome) -> bool:
    """As if the case expected success: the status and a body of the expected shape."""
    r = outcome.response
    if r is None or r.status_code not in case["expect_status"]:
        return False
    if case["key"] in ("17",):
        return True
    try:
        body = r.json()
    except ValueError:
        return False
    return "access_token" in body if case["key"] == "9" else "data" in body


def _callback(run: Run, key: str) -> None:
    request_key = {"13": "12", "14.B": "14.A"}[key]
    sent = run.outcome(request_key)
    assert sent.response is not None and sent.response.status_code == 200, f"case {request_key} was not accepted"
    got = run.recipient.wait_for(f"{run.test_run_id}/{request_key}")
    assert got.path == "/3/events"
    assert got.headers["content-type"] == "application/cloudevents+json; charset=UTF-8"
    assert got.headers["authorization"].startswith("Bearer ")  # a token from the webhook's own endpoint
    event = got.body
    if key == "13":
        CONFORMANCE.check(event, FULFILLED)
        assert event["type"] == "org.wbcsd.pact.ProductFootprint.RequestFulfilledEvent.3"
        asked = set(run.fp["productIds"])
        assert event["data"]["pfs"] and all(asked & set(pf["productIds"]) for pf in event["data"]["pfs"])
        assert run.fp["id"] in _ids(event["data"]["pfs"])
    else:
        CONFORMANCE.check(event, REJECTED)
        assert event["type"] == "org.wbcsd.pact.ProductFootprint.RequestRejectedEvent.3"
        assert event["data"]["error"]["code"] == "NotFound"


@pytest.mark.parametrize("key", [c["key"] for c in CASES])
def test_conformance_case(run: Run, key: str) -> None:
    case = run.cases[key]
    assert case["mandatory_v3"] is (key not in NOT_APPLICABLE)
    if key in NOT_APPLICABLE:
        pytest.skip(f"not applicable: {NOT_APPLICABLE[key]}")
    if case.get("callback"):
        _callback(run, key)
        return
    outcome = run.outcome(key)
    if case.get("expect_failure"):
        r = outcome.response
        assert not _succeeded(case, outcome), f"case {key} succeeded over plain HTTP: {r and r.status_code}"
        assert outcome.error is not None, "a plain-HTTP request to the TLS port got an HTTP answer"
        return
    r = outcome.response
    assert r is not None, f"case {key}: {outcome.error!r}"
    assert r.status_code in case["expect_status"], f"case {key}: {r.status_code} {r.text[:300]}"
    if r.status_code >= 400 and key != "2":  # the token endpoint's errors are OAuth's (case 2)
        CONFORMANCE.check(r.json(), ERROR)
    if key in CHECKS:
        CHECKS[key](run, r)
