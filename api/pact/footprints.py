"""PACT Action ListFootprints (``GET /pact/3/footprints``) and Action GetFootprint
(``GET /pact/3/footprints/{id}``).

Both answer ``{"data": …}`` as the spec's schemas say, plus one member of ours,
``"x-tdsl-receipts"``: for each footprint served, its id → the absolute URL of its receipt
(``/v1/records/{id}/receipt``, readable with the same bearer token), which proves it is in
the log. The footprint documents themselves are not touched (``api.pact.listing``: only
``status`` is the derived one).

ListFootprints takes the spec's criteria (``api.pact.filters``), ``limit`` (a positive
integer; more than ``MAX_LIMIT`` is served as ``MAX_LIMIT``, the spec lets a host return
fewer; default ``DEFAULT_LIMIT``) and ``x-tdsl-cursor``, the opaque cursor of a pagination
link. When more footprints match it answers ``Link: <…>; rel="next"`` (RFC 8288), an
absolute URL on the request's own host with the same criteria and limit. The cursor is a
place in the append-only log, so a link keeps working (and answers the same footprints,
but for their status) for as long as the log exists.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse

from api.deps import LedgerDep
from api.pact.auth import PactCallerDep
from api.pact.errors import PactCode, PactError
from api.pact.filters import FootprintFilter
from api.pact.listing import RECEIPTS, one, page, receipt_links
from ledger.errors import MalformedInput
from ledger.pact.formats import UUID

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
CURSOR = "x-tdsl-cursor"
_MAX_INDEX = 2**63 - 1

router = APIRouter(tags=["PACT"])


def encode_cursor(leaf_index: int) -> str:
    return base64.urlsafe_b64encode(f"pf:{leaf_index}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    kind, _, digits = text.partition(":")
    if kind != "pf" or not digits.isdigit() or not digits.isascii() or int(digits) > _MAX_INDEX:
        raise MalformedInput(f"{CURSOR} {cursor[:40]!r} is not a cursor this server gave out")
    return int(digits)


def footprint_filter(
    product_id: Annotated[list[str] | None, Query(alias="productId", description="a product id (repeat: any)")] = None,
    company_id: Annotated[list[str] | None, Query(alias="companyId", description="a company id (repeat: any)")] = None,
    geography: Annotated[list[str] | None, Query(description="region, country or subdivision (repeat: any of)")] = None,
    classification: Annotated[list[str] | None, Query(description="a product classification (repeat: any of)")] = None,
    valid_on: Annotated[list[str] | None, Query(alias="validOn", description="RFC 3339: valid at that time")] = None,
    valid_after: Annotated[list[str] | None, Query(alias="validAfter", description="validity starts after")] = None,
    valid_before: Annotated[list[str] | None, Query(alias="validBefore", description="validity ends before")] = None,
    status: Annotated[list[str] | None, Query(description="Active or Deprecated (the derived status)")] = None,
) -> FootprintFilter:
    return FootprintFilter.build(
        product_id=product_id, company_id=company_id, geography=geography, classification=classification,
        valid_on=valid_on, valid_after=valid_after, valid_before=valid_before, status=status,
    )  # fmt: skip


CriteriaDep = Annotated[FootprintFilter, Depends(footprint_filter)]


def _next_link(request: Request, cursor: int) -> str:
    params = [(k, v) for k, v in parse_qsl(request.url.query, keep_blank_values=True) if k != CURSOR]
    params.append((CURSOR, encode_cursor(cursor)))
    url = request.url.replace(query=urlencode(params))
    return f'<{url}>; rel="next"'


@router.get("/3/footprints", summary="Action ListFootprints")
def list_footprints(
    request: Request,
    ledger: LedgerDep,
    caller: PactCallerDep,
    criteria: CriteriaDep,
    limit: Annotated[int | None, Query(ge=1, le=_MAX_INDEX, description=f"per page ({MAX_LIMIT} at most)")] = None,
    cursor: Annotated[str | None, Query(alias=CURSOR, description="from a pagination link")] = None,
) -> JSONResponse:  # fmt: skip
    """The footprints the caller may read that meet every criterion, in log order."""
    start = 0 if cursor is None else decode_cursor(cursor)
    found, nxt = page(ledger, caller, criteria, start=start, limit=min(limit or DEFAULT_LIMIT, MAX_LIMIT))
    body: dict[str, Any] = {"data": [s.footprint for s in found], RECEIPTS: receipt_links(str(request.base_url), found)}
    headers = {"Link": _next_link(request, nxt)} if nxt is not None else None
    return JSONResponse(body, headers=headers)


@router.get("/3/footprints/{id}", summary="Action GetFootprint")
def get_footprint(
    request: Request,
    ledger: LedgerDep,
    caller: PactCallerDep,
    pf_id: Annotated[str, Path(alias="id", description="the footprint's id (a UUID)")],
) -> JSONResponse:
    """One footprint. Another company's footprint the caller may not read answers exactly
    as a missing one (404 NotFound)."""
    if UUID.fullmatch(pf_id) is None:
        raise PactError(PactCode.BAD_REQUEST, f"a footprint id is a UUID, got {pf_id[:60]!r}")
    found = one(ledger, caller, pf_id)
    return JSONResponse({"data": found.footprint, RECEIPTS: receipt_links(str(request.base_url), [found])})
