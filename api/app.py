"""The application factory: ``create_app(ledger, settings)``.

One router per resource under ``/v1``; OpenAPI at ``/docs``; every error as RFC 9457
problem+json (``api.errors``). The lifespan starts the background sealer
(``ledger.sealer``) when ``start_sealer`` and stops it on shutdown; single submissions
go through one ``GroupCommitter`` (``api.group_commit``), closed on shutdown after it
has committed what it was handed.

``app_from_environment()`` is the factory each worker process of ``tdsl serve --workers N``
calls (uvicorn's ``factory=True``): it opens the data directory of ``TDSL_DATA_DIR`` (and
the rest of the ``TDSL_*`` settings) itself. Every worker starts a sealer; the one that
holds the log's sealer lock seals and anchors, the others stand by (``ledger.sealer``).
"""

from __future__ import annotations

import re
from pathlib import Path
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import APIRouter, Depends, FastAPI
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from starlette.routing import compile_path
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from api import pact
from api.deps import refuse_invalid_token, reject_unknown_query
from api.group_commit import GroupCommitter
from api.openapi import openapi_document
from api.errors import TYPE_PREFIX, install_error_handlers, problem
from api.routers import audit, contracts, health, log, participants, passports, records, tlog
from ledger import formats
from ledger.sealer import Sealer
from ledger.chain.access import ChainAccess, serving_chain
from ledger.config import Settings
from ledger.datadir import open_data_dir
from ledger.log import Ledger

DESCRIPTION = """\
Signed records appended to an RFC 9162 Merkle log, stored and served as C2SP tlog-tiles,
with signed checkpoints and offline-verifiable receipts.

Authenticate with `Authorization: Bearer <token>` (tokens are issued by the operator).
Errors are RFC 9457 `application/problem+json`.
"""


STATIC_DIR = Path(__file__).resolve().parents[1] / "ledger" / "web" / "static"
HASH_TILES = "/v1/tlog/tile/"
ENTRY_BUNDLES = "/v1/tlog/tile/entries/"


class GZipExceptHashTiles:
    """``GZipMiddleware`` for every response but the hash tiles (``/v1/tlog/tile/<L>/…``)."""

    def __init__(self, app: ASGIApp, **options: int):
        self.app = app
        self.gzip = GZipMiddleware(app, **options)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if path.startswith(HASH_TILES) and not path.startswith(ENTRY_BUNDLES):
            await self.app(scope, receive, send)
        else:
            await self.gzip(scope, receive, send)




class RefuseControlCharacters:
    """A path with a control character (``%0A``, ``%00``…) is a 400, before routing.

    Starlette matches routes with ``$``, which also matches before a final newline: without
    this, ``/v1/log%0A`` answered as ``/v1/log`` and ``tile/0/000.p/9%0A`` served the tile
    (aliases of canonical URLs; issue 8)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and formats.CONTROL_CHARACTER.search(scope.get("path", "")):
            response = problem(400, "the request path contains a control character", type_=TYPE_PREFIX + "malformed-input")
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def route_methods(mounted: list[tuple[str, APIRouter]]) -> list[tuple[re.Pattern[str], frozenset[str]]]:
    """(path pattern, methods) of every route, for the ``Allow`` header of a 405."""
    table = []
    for prefix, router in mounted:
        for route in router.routes:
            if isinstance(route, APIRoute):
                pattern, _, _ = compile_path(prefix + route.path)
                table.append((re.compile(pattern.pattern.removeprefix("^").removesuffix("$")), frozenset(route.methods)))
    return table


def create_app(
    ledger: Ledger, settings: Settings, *, start_sealer: bool = True, chain: ChainAccess | None = None,
    open_chain: Callable[[], ChainAccess] | None = None,
) -> FastAPI:
    """The HTTP API over ``ledger``; a background sealer (and anchorer, given ``chain``, or
    ``open_chain`` to open it while the sealer holds the log's lock) runs while the app
    does, if asked."""
    sealer = Sealer(
        ledger, every_entries=settings.seal_every_entries, interval_seconds=settings.seal_interval_seconds,
        chain=chain, confirmations=settings.confirmations, open_chain=open_chain,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if app.state.committer is not None:
            app.state.committer.open()
        if start_sealer:
            sealer.start()
        try:
            yield
        finally:
            if app.state.committer is not None:
                await app.state.committer.close()
            sealer.stop()

    app = FastAPI(
        title="TDS Ledger",
        version="1",
        description=DESCRIPTION,
        docs_url="/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
        lifespan=lifespan,
        dependencies=[Depends(reject_unknown_query)],
    )
    app.state.ledger = ledger
    app.state.settings = settings
    app.state.sealer = sealer
    app.state.committer = GroupCommitter(ledger) if settings.group_commit else None
    install_error_handlers(app)
    # Entry bundles SHOULD be compressed at the HTTP layer (C2SP tlog-tiles); hash tiles are
    # random bytes that do not compress, so they skip it.
    app.add_middleware(GZipExceptHashTiles, minimum_size=1024)
    app.add_middleware(RefuseControlCharacters)
    mounted = [("/v1", module.router) for module in (records, contracts, passports, audit, log, tlog, participants, health)]
    for prefix, router in mounted:
        app.include_router(router, prefix=prefix, dependencies=[Depends(refuse_invalid_token)])
    # Passports on the web (DESIGN §12): the Digital Link resolver, DID documents and status
    # lists at the public base URL, and the page's own static files (no external requests).
    app.include_router(passports.resolver)
    mounted.append(("", passports.resolver))
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    # The PACT v3 API (api/pact, docs/pact.md): at /pact, not /v1, with PACT's error format there.
    app.include_router(pact.router, prefix=pact.PREFIX)
    mounted.append((pact.PREFIX, pact.router))
    app.state.route_methods = route_methods(mounted)
    app.openapi = lambda: openapi_document(app, mounted)  # type: ignore[method-assign]
    pact.install_error_handlers(app)
    return app


def app_from_environment() -> FastAPI:
    """The app of one worker of ``tdsl serve --workers N``, from the ``TDSL_*`` environment."""
    settings = Settings()
    ledger = open_data_dir(settings)
    chain = serving_chain(settings, chain_id=ledger.log.chain_id, contract=ledger.log.contract)
    return create_app(ledger, settings, start_sealer=True, open_chain=chain.open)
