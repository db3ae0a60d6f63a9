"""One error handler: the ledger's error tree as RFC 9457 problem+json.

Every error answer of the API is ``application/problem+json`` with ``type``, ``title``,
``status`` and ``detail``. Routes never catch: a ``LedgerError`` raised anywhere below a
route is mapped here, by its class, to one status:

| error                                   | status | type (``urn:tds-ledger:problem:…``) |
| --------------------------------------- | ------ | ----------------------------------- |
| PayloadTooLarge                         | 413    | payload-too-large                   |
| MalformedInput (and its subclasses)     | 400    | malformed-json, malformed-envelope… |
| InvalidRecord                           | 422    | invalid-record                      |
| VerificationError (InvalidSignature…)   | 422    | invalid-signature, invalid-proof…   |
| NotFound                                | 404    | not-found                           |
| Conflict                                | 409    | conflict                            |
| Unauthorized (+ ``WWW-Authenticate``)   | 401    | unauthorized                        |
| Forbidden                               | 403    | forbidden                           |
| CorruptStore (incl. SealerHalted)       | 503    | corrupt-store / sealer-halted       |
| Unavailable (+ ``Retry-After``)         | 503    | unavailable                         |
| any other LedgerError                   | 500    | internal                            |

The ``type`` names the most specific error class (``MalformedJSON`` → ``malformed-json``),
so a client can tell a duplicate key from a bad envelope without parsing ``detail``.
Errors that come from HTTP itself (unknown route, wrong method, wrong media type) and
request validation errors (a bad query parameter) use ``about:blank``, whose title is
the HTTP status phrase. Anything else is a bug: it is logged with its traceback and
answered 500 with a fixed detail, never with the traceback or the exception text.
"""

from __future__ import annotations

import logging
import re
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ledger.errors import (
    Conflict,
    CorruptStore,
    Forbidden,
    InvalidRecord,
    LedgerError,
    MalformedInput,
    NotFound,
    PayloadTooLarge,
    Unauthorized,
    Unavailable,
    VerificationError,
)

PROBLEM_MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:tds-ledger:problem:"

log = logging.getLogger("api")

# First match wins: subclasses before their bases.
_STATUS: tuple[tuple[type[LedgerError], int], ...] = (
    (PayloadTooLarge, 413),
    (MalformedInput, 400),
    (InvalidRecord, 422),
    (VerificationError, 422),
    (NotFound, 404),
    (Conflict, 409),
    (Unauthorized, 401),
    (Forbidden, 403),
    (CorruptStore, 503),
    (Unavailable, 503),
)

_TITLES = {
    400: "Malformed request",
    401: "Authentication required",
    403: "Forbidden",
    404: "Not found",
    409: "Conflict",
    413: "Request body too large",
    422: "Record or proof rejected",
    500: "Internal error",
    503: "Sealing halted",
}


def _slug(cls: type) -> str:
    """``MalformedJSON`` → ``malformed-json``, ``InvalidSignature`` → ``invalid-signature``."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "-", cls.__name__).lower()


def status_of(error: LedgerError) -> int:
    for cls, status in _STATUS:
        if isinstance(error, cls):
            return status
    return 500


def problem(
    status: int, detail: str, *, type_: str = "about:blank", title: str | None = None,
    headers: dict[str, str] | None = None, **extensions: Any,
) -> JSONResponse:
    """An RFC 9457 problem response, never cached (``Cache-Control: no-store``: a CDN must
    not pin a miss, e.g. a tile that the next checkpoint will serve)."""
    headers = {"Cache-Control": "no-store", **(headers or {})}
    body = {
        "type": type_,
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        **extensions,
    }
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_MEDIA_TYPE)


async def ledger_error(request: Request, exc: Exception) -> JSONResponse:
    """The one mapping of the ledger's error tree to problems."""
    assert isinstance(exc, LedgerError)
    status = status_of(exc)
    if status == 500:
        log.error("%s %s failed: %s", request.method, request.url.path, exc, exc_info=exc)
        slug = "internal"
    else:
        slug = _slug(type(exc))
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    title = _TITLES[status]
    if isinstance(exc, Unavailable):
        headers, title = {"Retry-After": "1"}, "Service unavailable"
    detail = str(exc) or type(exc).__name__
    return problem(status, detail, type_=TYPE_PREFIX + slug, title=title, headers=headers)


def _where(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc)


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    """A path, query or header parameter that does not validate: 400 (a body one: 422)."""
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    status = 422 if any(e.get("loc", ("",))[0] == "body" for e in errors) else 400
    detail = "; ".join(f"{_where(e.get('loc', ()))}: {e.get('msg', 'invalid')}" for e in errors[:10])
    return problem(status, detail or "invalid request")


async def http_error(request: Request, exc: Exception) -> JSONResponse:
    """Errors from routing and HTTP itself: 404 unknown route, 405, 415."""
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"no route {request.url.path}"
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        allow = allowed_methods(request)
        headers["Allow"] = ", ".join(allow)
        detail = f"{request.method} is not allowed on {request.url.path}; it takes {', '.join(allow)}"
    return problem(exc.status_code, detail, headers=headers)


def allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this path (Starlette's own 405 names only the first
    route's: ``/v1/records`` said ``Allow: POST`` though it takes GET too). From the table
    ``create_app`` builds of every route (``app.state.route_methods``)."""
    methods: set[str] = set()
    for pattern, route_methods in getattr(request.app.state, "route_methods", ()):
        if pattern.fullmatch(request.url.path):
            methods |= route_methods
    return sorted(methods)


async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    """A bug: log it with its traceback, answer without it."""
    log.error("%s %s raised an unexpected error", request.method, request.url.path, exc_info=exc)
    return problem(500, "internal error; the server log has the details")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(LedgerError, ledger_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unexpected_error)
