"""Dependencies of the routes, as ``Annotated`` aliases.

- ``LedgerDep``, ``SettingsDep``: what ``create_app`` was given.
- ``ViewerDep``: the caller from ``Authorization: Bearer <token>``; no header means
  ``ledger.access.ANONYMOUS``; a header that is not a bearer token, or a token that is
  unknown or revoked, is ``Unauthorized`` (401).
- ``CallerDep``: like ``ViewerDep`` but a valid token is required (401 without one).
- ``OperatorDep``: a caller with the ``operator`` role (403 for anyone else).
- ``JSONBody``: the request body, parsed only by ``ledger.canonical.parse_json``.

Request bodies are never parsed by FastAPI or pydantic: their JSON parser accepts
duplicate keys, ``NaN`` and unbounded nesting. ``read_json_body`` checks the media type
(415), enforces ``settings.max_body_bytes`` from ``Content-Length`` before reading and
again while streaming (chunked bodies have no length), then parses strictly.
"""

from __future__ import annotations

import re
import weakref
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from starlette.concurrency import run_in_threadpool

from ledger import formats
from ledger.access import ANONYMOUS, Viewer
from ledger.canonical import parse_json
from ledger.config import Settings
from ledger.errors import Forbidden, MalformedInput, PayloadTooLarge, Unauthorized
from ledger.log import Ledger

JSON_MEDIA_TYPE = "application/json"
#: Bodies up to this size are parsed on the event loop (tens of microseconds); larger ones
#: on a worker thread, so that one big body does not stall every other request.
INLINE_PARSE_BYTES = 64 * 1024

#: The bearer scheme as the OpenAPI document declares it (the "Authorize" button of /docs;
#: ``api.openapi`` adds it, and the operations' requirements). Not a dependency: parsing is
#: ours, and every dependency costs FastAPI ~10 µs per request to resolve.
BEARER_SCHEME = {"type": "http", "scheme": "bearer", "description": "An API token issued by the operator (`tdsl_...`)."}
_BEARER = re.compile(r"Bearer +(\S+) *", re.IGNORECASE)
_DIGITS = formats.DECIMAL_COUNT


def _query_params(dependant) -> dict[str, object]:
    """Every query parameter the route and its dependencies declare, by name, with its type."""
    params = {p.alias: p.field_info.annotation for p in dependant.query_params}
    for sub in dependant.dependencies:
        params |= _query_params(sub)
    return params


#: ``_query_params`` of each route by ``id``, computed on its first request (routes do not
#: change), with a weak reference that tells a live route from a collected one whose ``id``
#: was reused (routes are not hashable).
_KNOWN_QUERY: dict[int, tuple[weakref.ref, dict[str, object]]] = {}


def _known_query(route: object, dependant) -> dict[str, object]:
    cached = _KNOWN_QUERY.get(id(route))
    if cached is not None and cached[0]() is route:
        return cached[1]
    known = _query_params(dependant)
    _KNOWN_QUERY[id(route)] = (weakref.ref(route), known)
    return known


async def reject_unknown_query(request: Request) -> None:
    """Every endpoint takes only the query parameters it declares (DESIGN §10): any other
    is a 400 naming it, never silently ignored. Installed on the whole app.

    Values are held to their wire formats before FastAPI converts them: none may hold a
    control character, and an integer parameter is ASCII digits only (the conversion would
    take ``0%0A`` as 0, and Python's ``int`` other scripts' digits).
    """
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return
    known = _known_query(route, dependant)
    any_query = getattr(getattr(route, "endpoint", None), "accepts_any_query", False)  # the Digital Link resolver
    unknown = [] if any_query else sorted({k for k in request.query_params.keys() if k not in known})
    if unknown:
        allowed = f"; it takes {sorted(known)}" if known else "; it takes none"
        raise MalformedInput(f"unknown query parameter {', '.join(map(repr, unknown))}{allowed}")
    for name, value in request.query_params.multi_items():
        if formats.CONTROL_CHARACTER.search(value):
            raise MalformedInput(f"query parameter {name!r} holds a control character")
        if known.get(name) is int and not formats.matches(_DIGITS, value):
            raise MalformedInput(f"query parameter {name!r} must be a decimal integer of ASCII digits, got {value[:40]!r}")


async def get_ledger(request: Request) -> Ledger:
    return request.app.state.ledger


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


LedgerDep = Annotated[Ledger, Depends(get_ledger)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


async def get_viewer(request: Request) -> Viewer:
    """The caller; the token is looked up once per request (FastAPI caches the result for
    every dependency that asks), on the event loop: it is one point read (~25 µs on
    SQLite), and handing it to a worker thread cost ~1.6 ms of CPU per request at 50
    concurrent requests (threads contending for the interpreter lock). The ledger is taken
    from the app's state directly: every dependency costs FastAPI ~10 µs to resolve, and
    every request asks for this one."""
    ledger: Ledger = request.app.state.ledger
    header = request.headers.get("authorization")
    if header is None:
        return ANONYMOUS
    m = _BEARER.fullmatch(header)
    if m is None:
        raise Unauthorized("the Authorization header must be 'Bearer <token>'")
    return ledger.authenticate(m.group(1))


ViewerDep = Annotated[Viewer, Depends(get_viewer)]


async def refuse_invalid_token(_viewer: ViewerDep) -> None:
    """A presented token that is invalid (malformed, unknown, revoked, expired) is refused
    on every ``/v1`` route, also on those anonymous callers may read (issue 8: a revoked
    token used to pass on public endpoints and fail on ``/v1/records``)."""


async def get_caller(viewer: ViewerDep) -> Viewer:
    if viewer.address is None:
        raise Unauthorized("this request needs an API token: send 'Authorization: Bearer <token>'")
    return viewer


CallerDep = Annotated[Viewer, Depends(get_caller)]


async def get_operator(caller: CallerDep) -> Viewer:
    if "operator" not in caller.roles:
        raise Forbidden(f"only the log operator may do this; the token is for {caller.address}")
    return caller


OperatorDep = Annotated[Viewer, Depends(get_operator)]


async def read_json_body(request: Request) -> Any:
    """The body as strict JSON, within the size limit; see the module docstring."""
    settings: Settings = request.app.state.settings
    content_type = request.headers.get("content-type", "")
    if content_type.split(";", 1)[0].strip().lower() != JSON_MEDIA_TYPE:
        raise HTTPException(415, f"the body must be {JSON_MEDIA_TYPE}, got {content_type[:100]!r}")
    body = await read_body(request, settings.max_body_bytes)
    if len(body) <= INLINE_PARSE_BYTES:
        return parse_json(body)
    return await run_in_threadpool(parse_json, body)


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, refused with ``PayloadTooLarge`` over ``limit`` bytes: checked from
    ``Content-Length`` before reading and again while streaming (chunked bodies have none)."""
    length = request.headers.get("content-length")
    if length is not None:
        if not _DIGITS.fullmatch(length):
            raise MalformedInput(f"Content-Length must be a decimal byte count, got {length[:40]!r}")
        if int(length) > limit:
            raise PayloadTooLarge(f"the body is {int(length)} bytes; the limit is {limit}")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise PayloadTooLarge(f"the body is over the limit of {limit} bytes")
    return bytes(body)


JSONBody = Annotated[Any, Depends(read_json_body)]
