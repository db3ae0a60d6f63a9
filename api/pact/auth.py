"""PACT Action Authenticate (``POST /pact/auth/token``) and the bearer check of the actions.

**Token endpoint** — OAuth 2.0 client credentials (RFC 6749 §4.4): ``grant_type=
client_credentials`` as ``application/x-www-form-urlencoded``, the client authenticated by
HTTP Basic (``base64(client_id:client_secret)``, each form-encoded first, §2.3.1) or, less
recommended, by ``client_id`` and ``client_secret`` in the body — never both. The client id
is a participant's address (any case), the secret one of its long-lived API tokens
(``Ledger.client_credentials``). The answer is ``{"access_token", "token_type": "bearer",
"expires_in"}`` with ``Cache-Control: no-store``; the token expires after
``Settings.pact_token_ttl_seconds``. Errors are RFC 6749 §5.2 bodies: bad or missing client
credentials 401 ``invalid_client`` (with ``WWW-Authenticate: Basic``), a malformed request
400 ``invalid_request``, another grant type 400 ``unsupported_grant_type``, an unknown
scope 400 ``invalid_scope``. Parameters the endpoint does not know are ignored, as §3.2
requires (``audience``, ``resource``); a parameter sent twice is ``invalid_request``.

No OpenID Provider Configuration Document is served (the spec says SHOULD): the ledger
issues no ID tokens and has no authorization endpoint or JWKS, which that document must
name. Clients then use ``<base>/auth/token``, as the spec's authentication flow says.

**Bearer check** (``PactCallerDep``) — every ``/pact/3`` action needs ``Authorization:
Bearer <token>`` (RFC 6750 §2.1); any of the ledger's tokens is accepted (an access token
from the endpoint above, or an API token). No token, a malformed header, or an unknown or
revoked token: 401 ``BadRequest``; an expired one: 401 ``TokenExpired``.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import timedelta
from typing import Annotated
from urllib.parse import parse_qsl, unquote_plus

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from fastapi.security import OAuth2
from fastapi.openapi.models import OAuthFlowClientCredentials, OAuthFlows
from starlette.concurrency import run_in_threadpool

from api.deps import LedgerDep, SettingsDep, read_body
from api.pact.errors import TOKEN_PATH, OAuthError, PactCode, PactError, bearer_challenge
from ledger.access import Viewer
from ledger.errors import MalformedInput, TokenExpired, Unauthorized

FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"
#: Scopes of the spec's security scheme; a token from this endpoint grants both.
SCOPES = {"footprint:list": "list footprints", "footprint:read": "read one footprint"}
MAX_FORM_BYTES = 8 * 1024

# RFC 6750 §2.1 b64token; the scheme name is case-insensitive (RFC 9110 §11.1).
_BEARER = re.compile(r"Bearer +([A-Za-z0-9\-._~+/]+=*) *", re.IGNORECASE)
_BASIC = re.compile(r"Basic +([A-Za-z0-9+/]+=*) *", re.IGNORECASE)

# Declares the scheme in OpenAPI (/docs); the check itself is ``pact_caller``.
_scheme = OAuth2(
    flows=OAuthFlows(clientCredentials=OAuthFlowClientCredentials(tokenUrl=TOKEN_PATH, scopes=SCOPES)),
    scheme_name="PactBearerAuth",
    description="PACT: OAuth 2.0 client credentials (client_id: the participant's address, "
                "client_secret: one of its API tokens), then `Authorization: Bearer <access_token>`.",
    auto_error=False,
)  # fmt: skip

router = APIRouter(tags=["PACT"])


# -- the bearer check of /pact/3 ---------------------------------------------------------


def pact_caller(request: Request, ledger: LedgerDep, _declared: Annotated[str | None, Depends(_scheme)]) -> Viewer:
    header = request.headers.get("authorization")
    if header is None:
        raise PactError(PactCode.BAD_REQUEST, "this action needs an access token: 'Authorization: Bearer <token>' "
                        f"(POST {TOKEN_PATH} gives one)", status=401, headers=bearer_challenge())  # fmt: skip
    m = _BEARER.fullmatch(header)
    if m is None:
        raise PactError(PactCode.BAD_REQUEST, "the Authorization header must be 'Bearer <token>'", status=401,
                        headers=bearer_challenge("invalid_request"))  # fmt: skip
    try:
        return ledger.authenticate(m.group(1))
    except TokenExpired:
        challenge = bearer_challenge("invalid_token", "the access token expired")
        raise PactError(PactCode.TOKEN_EXPIRED, "the access token has expired; get a new one", status=401,
                        headers=challenge) from None  # fmt: skip
    except Unauthorized:
        raise PactError(PactCode.BAD_REQUEST, "invalid access token", status=401,
                        headers=bearer_challenge("invalid_token")) from None  # fmt: skip


PactCallerDep = Annotated[Viewer, Depends(pact_caller)]


# -- Action Authenticate -------------------------------------------------------------------


def _invalid(description: str) -> OAuthError:
    return OAuthError("invalid_request", description)


def _bad_client(description: str = "client authentication failed") -> OAuthError:
    return OAuthError("invalid_client", description, status=401, headers={"WWW-Authenticate": 'Basic realm="pact"'})


async def _form(request: Request) -> dict[str, str]:
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media != FORM_MEDIA_TYPE:
        raise _invalid(f"the body must be {FORM_MEDIA_TYPE}, got {media[:80]!r}")
    try:
        body = await read_body(request, MAX_FORM_BYTES)
    except MalformedInput as e:  # over the limit, or a bad Content-Length: OAuth's invalid_request
        raise _invalid(str(e)) from None
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(body),
                          max_num_fields=32)  # fmt: skip
    except (UnicodeDecodeError, ValueError):
        raise _invalid("the body is not a form (application/x-www-form-urlencoded, UTF-8)") from None
    form: dict[str, str] = {}
    for name, value in pairs:
        if name in form:
            raise _invalid(f"parameter {name!r} is given more than once")  # RFC 6749 §3.2
        form[name] = value
    return form


def _client(header: str | None, form: dict[str, str]) -> tuple[str, str]:
    in_body = "client_secret" in form
    if header is not None:
        if in_body:
            raise _invalid("authenticate the client one way: HTTP Basic or client_secret in the body, not both")
        m = _BASIC.fullmatch(header)
        if m is None:
            raise _bad_client("the Authorization header must be 'Basic base64(client_id:client_secret)'")
        try:
            decoded = base64.b64decode(m.group(1), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise _bad_client("the Basic credentials are not base64 of UTF-8 text") from None
        client_id, sep, secret = decoded.partition(":")
        if not sep:
            raise _bad_client("the Basic credentials must be client_id:client_secret")
        return unquote_plus(client_id), unquote_plus(secret)  # RFC 6749 §2.3.1: form-encoded first
    if in_body and "client_id" in form:
        return form["client_id"], form["client_secret"]
    raise _bad_client("no client credentials: send 'Authorization: Basic base64(client_id:client_secret)'")


@router.post(
    "/auth/token",
    summary="Action Authenticate (OAuth 2.0 client credentials)",
    openapi_extra={"requestBody": {"required": True, "content": {FORM_MEDIA_TYPE: {"schema": {
        "type": "object", "required": ["grant_type"],
        "properties": {"grant_type": {"const": "client_credentials"}, "scope": {"type": "string"}},
    }}}}},
)  # fmt: skip
async def token(request: Request, ledger: LedgerDep, settings: SettingsDep) -> JSONResponse:
    """An access token for a participant: client_id = its address, client_secret = one of
    its API tokens. It expires after ``expires_in`` seconds."""
    form = await _form(request)
    grant = form.get("grant_type")
    if grant is None:
        raise _invalid("grant_type is missing; it must be client_credentials")
    if grant != "client_credentials":
        raise OAuthError("unsupported_grant_type", f"grant_type must be client_credentials, got {grant[:60]!r}")
    scopes = form.get("scope", "").split()
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown:
        raise OAuthError("invalid_scope", f"unknown scope {unknown[0][:60]!r}; this server has {sorted(SCOPES)}")
    client_id, secret = _client(request.headers.get("authorization"), form)
    ttl = settings.pact_token_ttl_seconds
    try:
        access = await run_in_threadpool(ledger.client_credentials, client_id, secret, ttl=timedelta(seconds=ttl))
    except Unauthorized:
        raise _bad_client() from None
    body: dict[str, object] = {"access_token": access, "token_type": "bearer", "expires_in": ttl}
    if scopes:
        body["scope"] = " ".join(dict.fromkeys(scopes))
    return JSONResponse(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})
