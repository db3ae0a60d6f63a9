"""PACT's error answers, scoped to the paths under ``/pact``.

The rest of the API answers RFC 9457 problem+json (``api.errors``). Under ``/pact`` the
PACT Tech Spec v3 rules instead (§ "Error Handling", the OpenAPI ``Error`` schema): a JSON
object ``{"code", "message"}`` with ``application/json``, the code one of the spec's and
the status the one its table gives it:

| code          | status | raised for                                                          |
| ------------- | ------ | ------------------------------------------------------------------- |
| BadRequest    | 400    | a malformed request: query, body, id, event (``MalformedInput``…)   |
| BadRequest    | 401    | no access token, or one that is unknown or revoked (the conformance |
|               |        | tool recommends BadRequest; the spec has no code of its own for it) |
| TokenExpired  | 401    | an access token past its expiry                                     |
| AccessDenied  | 403    | ``Forbidden``                                                       |
| NotFound      | 404    | ``NotFound`` — a footprint the caller may not see answers alike     |
| InternalError | 500    | anything else; logged with its traceback, answered without it       |

A 401 carries ``WWW-Authenticate: Bearer …`` (RFC 6750 §3). The token endpoint
(``/pact/auth/token``) is OAuth 2.0's, so its errors are RFC 6749 §5.2 bodies
``{"error", "error_description"}`` (``OAuthError``).

``install_error_handlers(app)`` wraps the app's handlers for the ledger's error tree,
request validation, HTTP errors and unexpected exceptions: a request under ``/pact`` gets
the PACT (or OAuth) answer, any other the handler that was installed before.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from enum import StrEnum

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from ledger.errors import Forbidden, InvalidRecord, LedgerError, MalformedInput, NotFound, PayloadTooLarge, Unauthorized

PREFIX = "/pact"
TOKEN_PATH = PREFIX + "/auth/token"

log = logging.getLogger("api.pact")

Handler = Callable[[Request, Exception], Awaitable[Response]]


class PactCode(StrEnum):
    """The ``code`` of a PACT error response (the OpenAPI ``Error`` schema's enum)."""

    BAD_REQUEST = "BadRequest"
    ACCESS_DENIED = "AccessDenied"
    TOKEN_EXPIRED = "TokenExpired"
    NOT_FOUND = "NotFound"
    INTERNAL_ERROR = "InternalError"
    NOT_IMPLEMENTED = "NotImplemented"


#: The spec's error table (the ``HTTP Status Code`` column).
STATUS = {
    PactCode.BAD_REQUEST: 400,
    PactCode.ACCESS_DENIED: 403,
    PactCode.TOKEN_EXPIRED: 401,
    PactCode.NOT_FOUND: 404,
    PactCode.INTERNAL_ERROR: 500,
    PactCode.NOT_IMPLEMENTED: 400,
}


class PactError(Exception):
    """An error answer of a PACT action that does not come from the ledger's error tree."""

    def __init__(self, code: PactCode, message: str, *, status: int | None = None,
                 headers: dict[str, str] | None = None):  # fmt: skip
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = STATUS[code] if status is None else status
        self.headers = headers or {}


class OAuthError(Exception):
    """An RFC 6749 §5.2 error of the token endpoint (``invalid_client``, ``invalid_request``…)."""

    def __init__(self, error: str, description: str, *, status: int = 400, headers: dict[str, str] | None = None):
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status
        self.headers = headers or {}


def bearer_challenge(error: str | None = None, description: str | None = None) -> dict[str, str]:
    """``WWW-Authenticate`` for a 401 of a bearer-protected action (RFC 6750 §3)."""
    value = 'Bearer realm="pact"'
    if error is not None:
        value += f', error="{error}"'
    if description is not None:
        value += f', error_description="{description}"'
    return {"WWW-Authenticate": value}


def pact_response(code: PactCode, message: str, *, status: int | None = None,
                  headers: dict[str, str] | None = None) -> JSONResponse:  # fmt: skip
    status = STATUS[code] if status is None else status
    return JSONResponse({"code": code.value, "message": message}, status_code=status, headers=headers)


def oauth_response(error: str, description: str, *, status: int = 400,
                   headers: dict[str, str] | None = None) -> JSONResponse:  # fmt: skip
    # RFC 6749 §5.1/5.2: token endpoint answers are never cached.
    return JSONResponse({"error": error, "error_description": description}, status_code=status,
                        headers={"Cache-Control": "no-store", "Pragma": "no-cache", **(headers or {})})  # fmt: skip


def as_pact(exc: Exception, request: Request) -> PactError:
    """Any exception raised below a ``/pact/3`` route as the PACT error it answers."""
    if isinstance(exc, PactError):
        return exc
    if isinstance(exc, Unauthorized):
        return PactError(PactCode.BAD_REQUEST, str(exc), status=401, headers=bearer_challenge("invalid_token"))
    if isinstance(exc, Forbidden):
        return PactError(PactCode.ACCESS_DENIED, str(exc))
    if isinstance(exc, NotFound):
        return PactError(PactCode.NOT_FOUND, str(exc))
    if isinstance(exc, PayloadTooLarge):
        return PactError(PactCode.BAD_REQUEST, str(exc), status=413)
    if isinstance(exc, (MalformedInput, InvalidRecord)):
        return PactError(PactCode.BAD_REQUEST, str(exc))
    if isinstance(exc, RequestValidationError):
        return PactError(PactCode.BAD_REQUEST, _validation_message(exc))
    if isinstance(exc, StarletteHTTPException):
        if exc.status_code == 404:
            return PactError(PactCode.NOT_FOUND, f"no PACT action at {request.url.path}")
        code = PactCode.INTERNAL_ERROR if exc.status_code >= 500 else PactCode.BAD_REQUEST
        detail = exc.detail if isinstance(exc.detail, str) else code.value
        return PactError(code, detail, status=exc.status_code, headers=dict(exc.headers or {}))
    log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    return PactError(PactCode.INTERNAL_ERROR, "internal error; the server log has the details")


def as_oauth(exc: Exception, request: Request) -> OAuthError:
    """Any exception raised below the token endpoint as an RFC 6749 §5.2 error."""
    if isinstance(exc, OAuthError):
        return exc
    if isinstance(exc, Unauthorized):
        return OAuthError("invalid_client", "client authentication failed", status=401,
                          headers={"WWW-Authenticate": 'Basic realm="pact"'})  # fmt: skip
    if isinstance(exc, (MalformedInput, RequestValidationError)):
        message = _validation_message(exc) if isinstance(exc, RequestValidationError) else str(exc)
        return OAuthError("invalid_request", message)
    if isinstance(exc, StarletteHTTPException) and exc.status_code < 500:
        detail = exc.detail if isinstance(exc.detail, str) else "invalid request"
        return OAuthError("invalid_request", detail, status=exc.status_code, headers=dict(exc.headers or {}))
    log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    return OAuthError("server_error", "internal error; the server log has the details", status=500)


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for e in exc.errors()[:10]:
        where = ".".join(str(p) for p in e.get("loc", ()) if p != "query")
        parts.append(f"{where}: {e.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


def _relative_path(request: Request) -> str:
    path, root = request.scope.get("path", ""), request.scope.get("root_path", "")
    return path[len(root):] if root and path.startswith(root) else path


def is_pact_path(request: Request) -> bool:
    path = _relative_path(request)
    return path == PREFIX or path.startswith(PREFIX + "/")


async def _pact_handler(request: Request, exc: Exception) -> Response:
    if _relative_path(request) == TOKEN_PATH:
        o = as_oauth(exc, request)
        return oauth_response(o.error, o.description, status=o.status, headers=o.headers)
    p = as_pact(exc, request)
    return pact_response(p.code, p.message, status=p.status, headers=p.headers)


def _scoped(fallback: Handler | None) -> Handler:
    async def handler(request: Request, exc: Exception) -> Response:
        if is_pact_path(request) or fallback is None:
            return await _pact_handler(request, exc)
        return await fallback(request, exc)

    return handler


def install_error_handlers(app: FastAPI) -> None:
    """Answer errors under ``/pact`` in PACT's format; elsewhere as before. Call it after
    ``api.errors.install_error_handlers``."""
    for cls in (LedgerError, RequestValidationError, StarletteHTTPException, Exception):
        app.add_exception_handler(cls, _scoped(app.exception_handlers.get(cls)))
    app.add_exception_handler(PactError, _pact_handler)
    app.add_exception_handler(OAuthError, _pact_handler)
