"""The OpenAPI document as the contract: what FastAPI generates, made true of the server.

FastAPI documents the 2xx answers and a 422 ``HTTPValidationError`` on every route with
parameters; the bearer scheme is not a FastAPI dependency (``api.deps.BEARER_SCHEME``). The server
answers otherwise (issue 8: schemathesis found 33 mismatches), so ``openapi_document``
rewrites each operation from facts about its route:

- **errors**: every status the route can answer, each as ``application/problem+json``
  with the ``Problem`` schema (``api.errors``): 400 (a malformed request: an unknown or
  malformed query parameter, a control character in the path) and 401 (a presented token
  that is invalid) everywhere under ``/v1`` (the PACT API at ``/pact`` has its own error
  format and documents it itself); 404 where the route names a resource; 403
  where a token is required; 413, 415 and 422 (and 400 for malformed JSON) where it takes
  a body; 409 and 503 where the route's own ``responses`` or the table below say so.
  FastAPI's 422 for parameters is removed: a bad parameter is a 400 here.
- **security**: required (``[{"HTTPBearer": []}]``) only where a token is; where
  anonymous callers may read, the requirement is optional (``[{}, {"HTTPBearer": []}]``).
- **links**: from a submitted record's answer (``id``) to the record, its receipt and its
  lineage, so that a stateful test can chain submit → get → receipt.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from api import deps

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "An RFC 9457 problem: every error answer of the API.",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "description": "urn:tds-ledger:problem:<kind>, or about:blank for HTTP-level errors"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
    },
}

_WHY = {
    400: "malformed request (unknown or malformed parameter, control character, malformed JSON)",
    401: "the token presented is unknown, revoked or expired (or a required token is missing)",
    403: "the token's holder may not do this",
    404: "no such resource, or one the caller may not see",
    409: "conflicts with what is stored (retry may succeed)",
    413: "request body too large",
    415: "the body must be application/json",
    422: "a record, signature or proof that does not pass the ledger's rules",
    503: "the ledger cannot answer now (shutting down, or sealing halted)",
}

#: Statuses a route answers beyond the ones its shape implies, by (method, path).
EXTRA: dict[tuple[str, str], Sequence[int]] = {
    ("POST", "/v1/records"): (409, 503),
    ("POST", "/v1/records/batch"): (409,),
    ("GET", "/v1/records/{record_id}/receipt"): (409, 503),
    ("GET", "/v1/checkpoint"): (404,),
    ("GET", "/v1/tlog/checkpoint"): (404,),
    ("GET", "/v1/proofs/inclusion"): (404,),
    ("GET", "/v1/proofs/consistency"): (404,),
    ("DELETE", "/v1/tokens"): (404,),
    ("POST", "/v1/tokens"): (404,),
    ("GET", "/v1/audit/bundle"): (404, 409),  # an unknown scope agreement; the period not yet anchored
}

#: Where a submitted record's answer leads (``AppendedOut.id`` is the record id).
_RECORD_LINKS = {
    "GetRecord": ("GET", "/v1/records/{record_id}"),
    "GetReceipt": ("GET", "/v1/records/{record_id}/receipt"),
    "GetLineage": ("GET", "/v1/records/{record_id}/lineage"),
}


def _calls(dependant) -> set[object]:
    out = {dependant.call}
    for sub in dependant.dependencies:
        out |= _calls(sub)
    return out


def _problem(status: int) -> dict[str, Any]:
    return {
        "description": _WHY[status],
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


def _error_statuses(method: str, path: str, route: APIRoute, calls: set[object]) -> set[int]:
    statuses = {400} | set(EXTRA.get((method, path), ()))
    statuses.add(401)
    if route.dependant.path_params:
        statuses.add(404)
    if deps.get_caller in calls or deps.get_operator in calls:
        statuses |= {401, 403}
    if deps.read_json_body in calls:
        statuses |= {400, 413, 415, 422}
    return statuses


def _routes(mounted: Iterable[tuple[str, APIRouter]]) -> Iterable[tuple[str, str, APIRoute]]:
    for prefix, router in mounted:
        for route in router.routes:
            if isinstance(route, APIRoute) and route.include_in_schema:
                for method in route.methods:
                    yield method, prefix + route.path_format, route


def openapi_document(app: FastAPI, mounted: Sequence[tuple[str, APIRouter]]) -> dict[str, Any]:
    """FastAPI's document for ``app``, rewritten as the module docstring says (cached on the app)."""
    if app.openapi_schema is not None:
        return app.openapi_schema
    doc = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = PROBLEM_SCHEMA
    links = {}
    for name, (method, path) in _RECORD_LINKS.items():
        op = doc["paths"].get(path, {}).get(method.lower())
        if op is not None:
            links[name] = {"operationId": op["operationId"], "parameters": {"record_id": "$response.body#/id"}}
    for method, path, route in _routes(mounted):
        op = doc["paths"].get(path, {}).get(method.lower())
        if op is None or not path.startswith("/v1/"):
            continue  # the PACT API at /pact documents its own error format (api/pact)
        calls = _calls(route.dependant)
        responses = op.setdefault("responses", {})
        validation = responses.get("422", {}).get("content", {}).get("application/json", {}).get("schema", {})
        if validation.get("$ref", "").endswith("/HTTPValidationError"):
            del responses["422"]
        for status in sorted(_error_statuses(method, path, route, calls)):
            responses.setdefault(str(status), _problem(status))
        required = deps.get_caller in calls or deps.get_operator in calls
        op["security"] = [{"HTTPBearer": []}] if required else [{}, {"HTTPBearer": []}]
        doc.setdefault("components", {}).setdefault("securitySchemes", {})["HTTPBearer"] = deps.BEARER_SCHEME
        if (method, path) in (("POST", "/v1/records"),):
            for status in ("200", "201"):
                if status in responses:
                    responses[status]["links"] = links
    for unused in ("HTTPValidationError", "ValidationError"):  # still used by the PACT routes, if at all
        if f'"#/components/schemas/{unused}"' not in json.dumps(doc):
            schemas.pop(unused, None)
    app.openapi_schema = doc
    return doc
