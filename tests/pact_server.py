"""Helpers of the PACT API tests (no tests here): real servers on loopback, a supply chain
with footprints, and the official schemas.

- ``Tls``: a ``trustme`` CA and a server certificate for 127.0.0.1 / localhost, as files.
- ``serve(app, tls)``: the app behind a real uvicorn server on a free port (TLS if given),
  stopped at the end.
- ``Recipient``: a data recipient's PACT host as a real HTTPS server (``http.server`` in a
  thread): ``POST <base>/auth/token`` (client credentials by HTTP Basic) and
  ``POST <base>/3/events``, which needs a bearer token from there and keeps what it got.
- ``PactWorld`` / ``make_world``: ``tests/test_pcf.make_chain``'s companies, each with an API
  token, a set of footprints (public, private, disclosed, superseded) and the app.
- ``Schemas``: validators for any schema of a PACT OpenAPI document (``tests/test_pact_models``
  translates the document; its helpers are reused).
"""

from __future__ import annotations

import base64
import json
import ssl
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import trustme
import yaml
from fastapi import FastAPI
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from test_api_support import TestClient, serving
from test_pact_models import PACT, _translate, format_checker
from test_pcf import Chain, make_chain, submit
from pcf_support import Company, footprint, leaf_of, product_footprint

from api import create_app
from ledger.config import Settings

# -- TLS and servers ---------------------------------------------------------------------


@dataclass
class Tls:
    ca: trustme.CA
    ca_file: Path
    cert_file: Path
    key_file: Path

    @classmethod
    def make(cls, directory: Path) -> Tls:
        directory.mkdir(parents=True, exist_ok=True)
        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1", "localhost")
        tls = cls(ca, directory / "ca.pem", directory / "server.pem", directory / "server.key")
        ca.cert_pem.write_to_path(str(tls.ca_file))
        cert.private_key_pem.write_to_path(str(tls.key_file))
        with tls.cert_file.open("wb") as f:
            for pem in cert.cert_chain_pems:
                f.write(pem.bytes())
        return tls

    def client_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context()
        self.ca.configure_trust(ctx)
        return ctx

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert_file, self.key_file)
        return ctx


@contextmanager
def serve(app: FastAPI, tls: Tls | None = None) -> Iterator[str]:
    """Run ``app`` under uvicorn on 127.0.0.1 (TLS-only when ``tls``); yield its root URL."""
    files = {} if tls is None else {"ssl_certfile": tls.cert_file, "ssl_keyfile": tls.key_file}
    with serving(app, **files) as url:
        yield url


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: Any


class Recipient:
    """A data recipient's PACT host (HTTPS) that takes answers at ``<base>/3/events``.

    ``client_id``/``client_secret``: what ``/auth/token`` accepts; the events endpoint then
    needs a token it issued. ``fail_first``: statuses to answer the first event POSTs with.
    """

    def __init__(self, tls: Tls, *, client_id: str = "ledger", client_secret: str = "s3cret",
                 prefix: str = "/recipient", fail_first: tuple[int, ...] = ()):  # fmt: skip
        self.client_id, self.client_secret, self.prefix = client_id, client_secret, prefix
        self.tokens: set[str] = set()
        self.events: list[Received] = []
        self.refused: list[Received] = []
        self.fail_first = list(fail_first)
        self._lock = threading.Condition()
        recipient = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self, status: int, body: Any = None) -> None:
                data = b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._answer(404, {"code": "NotFound", "message": "no OpenID configuration here"})

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                got = Received(self.path, {k.lower(): v for k, v in self.headers.items()}, raw)
                if self.path == recipient.prefix + "/auth/token":
                    self._token(raw)
                elif self.path == recipient.prefix + "/3/events":
                    self._event(got, raw)
                else:
                    self._answer(404, {"code": "NotFound", "message": self.path})

            def _token(self, raw: bytes) -> None:
                expected = base64.b64encode(f"{recipient.client_id}:{recipient.client_secret}".encode()).decode()
                if self.headers.get("Authorization") != f"Basic {expected}" or raw != b"grant_type=client_credentials":
                    self._answer(401, {"error": "invalid_client", "error_description": "no"})
                    return
                token = uuid.uuid4().hex
                recipient.tokens.add(token)
                self._answer(200, {"access_token": token, "token_type": "bearer", "expires_in": 60})

            def _event(self, got: Received, raw: bytes) -> None:
                auth = self.headers.get("Authorization", "")
                with recipient._lock:
                    if not auth.startswith("Bearer ") or auth[7:] not in recipient.tokens:
                        recipient.refused.append(got)
                        self._answer(401, {"code": "BadRequest", "message": "invalid token"})
                        return
                    if recipient.fail_first:
                        recipient.refused.append(got)
                        self._answer(recipient.fail_first.pop(0), {"code": "InternalError", "message": "try again"})
                        return
                    got.body = json.loads(raw)
                    recipient.events.append(got)
                    recipient._lock.notify_all()
                self._answer(200)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.socket = tls.server_context().wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.base = f"https://127.0.0.1:{self.port}{prefix}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Recipient:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(10)

    @property
    def credentials(self) -> dict[str, str]:
        """``Settings.pact_callback_credentials`` for the ledger to call this recipient."""
        return {f"127.0.0.1:{self.port}": f"{self.client_id}:{self.client_secret}"}

    def wait_for(self, request_event_id: str, timeout: float = 15) -> Received:
        """The answer to ``request_event_id`` once it has arrived."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                for got in self.events:
                    if got.body.get("data", {}).get("requestEventId") == request_event_id:
                        return got
                left = deadline - time.monotonic()
                assert left > 0, f"no answer to {request_event_id!r} within {timeout} s (refused: {len(self.refused)})"
                self._lock.wait(left)


# -- a supply chain with footprints --------------------------------------------------------


def rich(fp: dict[str, Any], *, country: str = "DE", classification: str = "urn:eclass:0173-1-01-AAA123-005",
         start: str = "2026-01-01T00:00:00Z", end: str = "2028-12-31T00:00:00Z") -> dict[str, Any]:  # fmt: skip
    """``fp`` with a geography, a classification and a validity period."""
    fp["pcf"]["geographyCountry"] = country
    fp["productClassifications"] = [classification]
    fp["validityPeriodStart"], fp["validityPeriodEnd"] = start, end
    return fp


@dataclass
class PactWorld:
    chain: Chain
    settings: Settings
    app: FastAPI
    tokens: dict[str, str]  # company name -> API token (its client secret)
    fps: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def ledger(self):
        return self.chain.ledger

    def secret(self, company: Company) -> str:
        return self.tokens[company.name]

    def basic(self, company: Company) -> dict[str, str]:
        pair = f"{company.address}:{self.secret(company)}".encode()
        return {"Authorization": "Basic " + base64.b64encode(pair).decode(),
                "Content-Type": "application/x-www-form-urlencoded"}  # fmt: skip


def publish_footprints(c: Chain) -> dict[str, dict[str, Any]]:
    """Footprints of every kind of visibility:

    - ``public_de``: the exporter's, public, DE, valid 2026-2028 (the first in the log)
    - ``nmc``, ``lfp``: the cathode supplier's, private, disclosed to the cell maker
    - ``cell``: the cell maker's, private, rolled up from nmc and lfp
    - ``old``, ``new``: the exporter's, public, FR; ``new`` supersedes ``old`` (Deprecated) and
      has a second product id
    - ``secret``: the stranger's, private, shown to no one
    """
    fps: dict[str, dict[str, Any]] = {}
    fps["public_de"] = rich(footprint(name="Pack DE", company=c.exporter.company_id, product="urn:gtin:4012345000054"))
    submit(c, c.exporter, fps["public_de"], visibility="public")
    fps["nmc"] = rich(footprint(name="NMC811", company=c.cathode.company_id, product="urn:gtin:4012345000016",
                                values=("12.5", "12.1", "11.75")), country="CN",
                      classification="urn:eclass:0173-1-01-CAT001-001")  # fmt: skip
    fps["lfp"] = footprint(name="LFP", company=c.cathode.company_id, product="urn:gtin:4012345000023",
                           values=("9.0", "8.5", "8.25"))  # fmt: skip
    submit(c, c.cathode, fps["nmc"])
    submit(c, c.cathode, fps["lfp"])
    for k in ("nmc", "lfp"):
        c.ledger.disclose(fps[k]["id"], [c.cells.address], c.viewer(c.cathode))
    fps["cell"] = product_footprint([(fps["nmc"], "0.35"), (fps["lfp"], "0.1")], name="Cell", places=4,
                                    company=c.cells.company_id, product="urn:gtin:4012345000030")  # fmt: skip
    parents = (leaf_of(c.cathode.submitted[fps["nmc"]["id"]]), leaf_of(c.cathode.submitted[fps["lfp"]["id"]]))
    submit(c, c.cells, fps["cell"], parents)
    fps["old"] = rich(footprint(name="Pack FR v1", company=c.exporter.company_id, product="urn:gtin:4012345000061"),
                      country="FR")  # fmt: skip
    submit(c, c.exporter, fps["old"], visibility="public")
    fps["new"] = rich(footprint(name="Pack FR v2", company=c.exporter.company_id, product="urn:gtin:4012345000061",
                                values=("1.1", "1.0", "0.9"), preceding=(fps["old"]["id"],)), country="FR")  # fmt: skip
    fps["new"]["productIds"].append("urn:gtin:4012345000085")  # two product ids: two index terms
    submit(c, c.exporter, fps["new"], visibility="public")
    fps["secret"] = rich(footprint(name="Secret", company=c.stranger.company_id, product="urn:gtin:4012345000078"))
    submit(c, c.stranger, fps["secret"])
    return fps


def make_world(tmp_path: Path, database_url: str, **settings: Any) -> PactWorld:
    chain = make_chain(tmp_path, database_url)
    s = Settings(data_dir=tmp_path, database_url=database_url, **settings)
    tokens = {co.name: chain.ledger.issue_token(co.address, "pact test")
              for co in (chain.cathode, chain.cells, chain.exporter, chain.stranger)}  # fmt: skip
    world = PactWorld(chain, s, create_app(chain.ledger, s, start_sealer=False), tokens)
    world.fps = publish_footprints(chain)
    return world


@contextmanager
def client(world: PactWorld) -> Iterator[TestClient]:
    with TestClient(world.app) as http:
        yield http


# -- the official schemas -------------------------------------------------------------------


class Schemas:
    """Validators for schemas of one PACT OpenAPI document, by JSON pointer."""

    def __init__(self, path: Path):
        with path.open(encoding="utf-8") as f:
            document = yaml.load(f, Loader=yaml.CSafeLoader)
        self.base = f"urn:tds-ledger:test:{path.name}"
        resource = Resource.from_contents(_translate(document), default_specification=DRAFT202012)
        self.registry = Registry().with_resource(self.base, resource)

    @cache
    def validator(self, pointer: str) -> Draft202012Validator:
        return Draft202012Validator({"$ref": f"{self.base}#{pointer}"}, registry=self.registry,
                                    format_checker=format_checker())  # fmt: skip

    def errors(self, instance: Any, pointer: str) -> list[str]:
        found = self.validator(pointer).iter_errors(instance)
        return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in found]

    def check(self, instance: Any, pointer: str) -> None:
        found = self.errors(instance, pointer)
        assert not found, f"not a valid {pointer}: {found[:5]}"


LIST_RESPONSE = "/paths/~13~1footprints/get/responses/200/content/application~1json/schema"
GET_RESPONSE = "/paths/~13~1footprints~1{id}/get/responses/200/content/application~1json/schema"
ERROR = "/components/schemas/Error"
FOOTPRINT = "/components/schemas/ProductFootprint"
FULFILLED = "/components/schemas/RequestFulfilledEvent"
REJECTED = "/components/schemas/RequestRejectedEvent"

V3 = Schemas(PACT / "v3" / "openapi-3.0.3.yaml")
CONFORMANCE = Schemas(PACT / "conformance" / "openapi_v3_0.yaml")


def wait_until(check: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def https_client(tls: Tls, base: str, **kw: Any) -> httpx.Client:
    return httpx.Client(base_url=base, verify=tls.client_context(), timeout=10, **kw)
