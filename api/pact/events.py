"""PACT Action Events (``POST /pact/3/events``): CloudEvents in structured mode.

The body must be ``application/cloudevents+json`` (a ``charset`` parameter, if any,
UTF-8), within ``Settings.max_body_bytes``, strict JSON (``ledger.canonical.parse_json``:
no duplicate keys, no NaN), and one of the four PACT v3 events (``api.pact.schemas``);
anything else is 400 BadRequest. An accepted event answers 200 with an empty body.

- ``RequestCreatedEvent``: its ``source`` must be an allowed callback target
  (``api.pact.callbacks``), else 400; accepted, it is answered later, in the background,
  with a RequestFulfilledEvent or RequestRejectedEvent of the footprints the caller may
  read.
- ``PublishedEvent``: acknowledged and logged. The ledger is where footprints are
  published, not a recipient that fetches them.
- ``RequestFulfilledEvent``, ``RequestRejectedEvent``: checked and logged; the ledger sends
  no requests of its own, so there is nothing to match them with.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from api.deps import SettingsDep, read_body
from api.pact.auth import PactCallerDep
from api.pact.callbacks import Callbacks
from api.pact.errors import PactCode, PactError
from api.pact.schemas import CE_MEDIA_TYPE, Published, RequestCreated, RequestFulfilled, RequestRejected, parse_event
from ledger.canonical import parse_json
from ledger.errors import MalformedInput

log = logging.getLogger("api.pact")


router = APIRouter(tags=["PACT"])


def _check_media_type(value: str) -> None:
    media, _, params = value.partition(";")
    if media.strip().lower() != CE_MEDIA_TYPE:
        raise MalformedInput(f"an event must be sent as {CE_MEDIA_TYPE} (structured mode), got {value[:100]!r}")
    for param in params.split(";"):
        name, _, v = param.partition("=")
        if name.strip().lower() == "charset" and v.strip().strip('"').lower() not in ("utf-8", "utf8"):
            raise MalformedInput(f"an event must be UTF-8, got charset {v.strip()[:40]!r}")


def _callbacks(request: Request) -> Callbacks:
    callbacks = getattr(request.app.state, "pact_callbacks", None)
    if callbacks is None:
        raise PactError(PactCode.INTERNAL_ERROR, "event answers are not running (the app's lifespan has not started)")
    return callbacks


@router.post(
    "/3/events",
    summary="Action Events",
    openapi_extra={"requestBody": {"required": True, "content": {CE_MEDIA_TYPE: {"schema": {"type": "object"}}}}},
    responses={200: {"description": "the event was accepted (empty body)"}},
)
async def post_event(request: Request, caller: PactCallerDep, settings: SettingsDep) -> Response:
    """Take a CloudEvent: a request for footprints (answered later, to its ``source``), or
    a notification (acknowledged)."""
    _check_media_type(request.headers.get("content-type", ""))
    raw = await read_body(request, settings.max_body_bytes)
    event = await run_in_threadpool(lambda: parse_event(parse_json(raw)))
    if isinstance(event, RequestCreated):
        _callbacks(request).request_created(
            viewer=caller, event_id=event.id, source=event.source, criteria=event.criteria,
            our_source=str(request.url.replace(query="")), our_root=str(request.base_url),
        )  # fmt: skip
        log.info("RequestCreatedEvent %r from %s accepted; answering %s", event.id, caller.address, event.source)
    elif isinstance(event, Published):
        log.info("PublishedEvent %r from %s: %d footprint id(s)", event.id, caller.address, len(event.pf_ids))
    elif isinstance(event, (RequestFulfilled, RequestRejected)):
        log.info("%s %r from %s for request %r: nothing of ours to match", event.type.value, event.id,
                 caller.address, event.request_event_id)  # fmt: skip
    return Response(status_code=200)
