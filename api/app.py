"""The application factory: ``create_app(ledger, settings)``.

One router per resource under ``/v1``; OpenAPI at ``/docs``; every error as RFC 9457
problem+json (``api.errors``). The lifespan starts the background sealer
(``ledger.sealer``) when ``start_sealer`` and stops it on shutdown.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from starlette.middleware.gzip import GZipMiddleware

from api import pact
from api.deps import reject_unknown_query
from api.errors import install_error_handlers
from api.routers import health, log, participants, records, tlog
from ledger.sealer import Sealer
from ledger.chain.access import ChainAccess
from ledger.config import Settings
from ledger.log import Ledger

DESCRIPTION = """\
Signed records appended to an RFC 9162 Merkle log, stored and served as C2SP tlog-tiles,
with signed checkpoints and offline-verifiable receipts.

Authenticate with `Authorization: Bearer <token>` (tokens are issued by the operator).
Errors are RFC 9457 `application/problem+json`.
"""


def create_app(
    ledger: Ledger, settings: Settings, *, start_sealer: bool = True, chain: ChainAccess | None = None
) -> FastAPI:
    """The HTTP API over ``ledger``; a background sealer (and anchorer, given ``chain``) runs
    while the app does, if asked."""
    sealer = Sealer(
        ledger, every_entries=settings.seal_every_entries, interval_seconds=settings.seal_interval_seconds,
        chain=chain, confirmations=settings.confirmations,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if start_sealer:
            sealer.start()
        try:
            yield
        finally:
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
    install_error_handlers(app)
    # Entry bundles SHOULD be compressed at the HTTP layer (C2SP tlog-tiles).
    app.add_middleware(GZipMiddleware, minimum_size=1024)
    for module in (records, log, tlog, participants, health):
        app.include_router(module.router, prefix="/v1")
    # The PACT v3 API (api/pact, docs/pact.md): at /pact, not /v1, with PACT's error format there.
    app.include_router(pact.router, prefix=pact.PREFIX)
    pact.install_error_handlers(app)
    return app
