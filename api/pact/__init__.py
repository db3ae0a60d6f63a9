"""The PACT Tech Spec v3 API, mounted at ``/pact`` (``docs/pact.md``).

- ``POST /pact/auth/token`` — Action Authenticate (``api.pact.auth``)
- ``GET /pact/3/footprints``, ``GET /pact/3/footprints/{id}`` — ListFootprints and
  GetFootprint (``api.pact.footprints``, ``api.pact.listing``, ``api.pact.filters``)
- ``POST /pact/3/events`` — Action Events (``api.pact.events``, ``api.pact.schemas``,
  ``api.pact.callbacks``)

Errors under ``/pact`` are PACT's ``{"code", "message"}`` (``api.pact.errors``). The
router's lifespan runs the background answers to RequestCreatedEvents
(``app.state.pact_callbacks``) while the app does.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI

from api.pact import auth, events, footprints
from api.pact.callbacks import Callbacks
from api.pact.errors import PREFIX, install_error_handlers

__all__ = ["PREFIX", "install_error_handlers", "router"]


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    callbacks = Callbacks(app.state.ledger, app.state.settings)
    app.state.pact_callbacks = callbacks
    try:
        yield
    finally:
        await asyncio.to_thread(callbacks.close)


router = APIRouter(lifespan=_lifespan)
for _module in (auth, footprints, events):
    router.include_router(_module.router)
