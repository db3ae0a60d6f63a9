"""Records: submit (one or a batch), read, list, receipt, erase a payload.

Who may submit: a caller with a valid token whose address is the envelope's author, or
the operator (who may relay records others signed). The ledger itself then checks the
author's signature and every admission rule (``ledger.log``). A record another viewer
may not see answers exactly as a missing one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from api.deps import CallerDep, JSONBody, LedgerDep, ViewerDep
from api.group_commit import GroupCommitter
from api.schemas import (
    BATCH_SCHEMA,
    DISCLOSE_SCHEMA,
    SUBMISSION_SCHEMA,
    AppendedOut,
    DisclosuresOut,
    RecordListOut,
    batch_from_json,
    disclose_from_json,
    json_body_doc,
    period_bound,
    submission_from_json,
)
from ledger.access import Viewer
from ledger import formats
from ledger.errors import Forbidden
from ledger.lineage import MAX_DEPTH
from ledger.log import RecordQuery
from ledger.pact.formats import URN
from ledger.store import Appended
from ledger.submission import Submission
from ledger.views import state_json

router = APIRouter(tags=["records"])

MAX_LIST = 1000


def check_may_submit(caller: Viewer, submissions: Sequence[Submission]) -> None:
    """The token must be the author's, or the operator's."""
    if "operator" in caller.roles:
        return
    for i, sub in enumerate(submissions):
        if sub.envelope.author != caller.address:
            where = f"record {i}: " if len(submissions) > 1 else ""
            raise Forbidden(
                f"{where}the token is for {caller.address}; it may only submit records authored by that address, "
                f"not by {sub.envelope.author}"
            )


#: A path's record id, in its wire format (a malformed one is a 400, not a 404).
RecordId = Annotated[str, Path(pattern=formats.anchored(formats.RECORD_ID), description="the record's id")]
#: ``since``/``until``: an RFC 3339 UTC time as ``issued_at`` is written, or a date.
PERIOD = f"^(?:{formats.ISSUED_AT.pattern}|{formats.DATE.pattern})$"


def _appended(a: Appended) -> dict[str, Any]:
    return {"id": a.record_id, "leaf_index": a.leaf_index, "leaf_hash": a.leaf_hash.hex(), "duplicate": a.duplicate,
            "state": state_json(a.state)}  # fmt: skip


@router.post(
    "/records",
    status_code=201,
    response_model=AppendedOut,
    openapi_extra=json_body_doc(SUBMISSION_SCHEMA),
    responses={200: {"description": "the same record was already stored (idempotent)", "model": AppendedOut}},
)
async def submit_record(request: Request, caller: CallerDep, body: JSONBody) -> JSONResponse:
    """Append one signed record. 201 when appended, 200 when it was already stored.

    Concurrent submissions are committed together (group commit); the answer comes after
    the commit that made this record durable.
    """
    sub = submission_from_json(body)
    check_may_submit(caller, [sub])
    committer: GroupCommitter | None = request.app.state.committer
    if committer is None:
        [appended] = await run_in_threadpool(request.app.state.ledger.submit, [sub])
    else:
        appended = await committer.submit(sub)
    # The hot path of single submissions: the body is built here, not validated again
    # against AppendedOut (which documents it).
    return JSONResponse(_appended(appended), status_code=200 if appended.duplicate else 201)


@router.post(
    "/records/batch",
    status_code=201,
    openapi_extra=json_body_doc(BATCH_SCHEMA),
    responses={200: {"description": "every record was already stored"}},
)
def submit_batch(ledger: LedgerDep, caller: CallerDep, body: JSONBody, response: Response) -> list[AppendedOut]:
    """Append records atomically: one bad record rejects them all, its index named in the problem."""
    subs = batch_from_json(body)
    check_may_submit(caller, subs)
    appended = ledger.submit(subs)
    if all(a.duplicate for a in appended):
        response.status_code = 200
    return [AppendedOut(**_appended(a)) for a in appended]


@router.get("/records")
def list_records(
    ledger: LedgerDep,
    viewer: ViewerDep,
    author: Annotated[str | None, Query(pattern=formats.anchored(formats.ADDRESS), description="the author's address")] = None,
    kind: Annotated[str | None, Query(pattern=formats.anchored(formats.KIND), description="a record kind, e.g. pcf")] = None,
    product: Annotated[str | None, Query(pattern=formats.anchored(URN), description="index term: a product id, e.g. urn:gtin:…")] = None,
    dataset: Annotated[str | None, Query(pattern=formats.anchored(formats.RECORD_ID), description="index term: a dataset record id")] = None,
    agreement: Annotated[str | None, Query(pattern=formats.anchored(formats.RECORD_ID), description="index term: an agreement record id")] = None,
    company: Annotated[str | None, Query(pattern=formats.anchored(URN), description="index term: a company id (urn:…)")] = None,
    provider: Annotated[str | None, Query(pattern=formats.anchored(formats.ADDRESS), description="index term: a contract's provider address")] = None,
    consumer: Annotated[str | None, Query(pattern=formats.anchored(formats.ADDRESS), description="index term: a contract's consumer address")] = None,
    item: Annotated[str | None, Query(pattern=r"^/01/[0-9]{14}(/[!-~]+)?$", max_length=255, description="index term: a passport's Digital Link path, e.g. /01/09520123456788/21/12345")] = None,
    since: Annotated[str | None, Query(pattern=PERIOD, description="issued_at at or after (RFC 3339 UTC, or a date)")] = None,
    until: Annotated[str | None, Query(pattern=PERIOD, description="issued_at at or before (RFC 3339 UTC, or a date: its end)")] = None,
    start: Annotated[int, Query(ge=0, le=2**63 - 1, description="first leaf index to look at")] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_LIST, description="records per page")] = 100,
) -> RecordListOut:
    """Records visible to the caller that match every filter, in log order, from ``start``.

    ``next_start`` continues after the page (null at the end).
    """
    terms = tuple((n, v) for n, v in (("product", product), ("dataset", dataset), ("agreement", agreement),
                                      ("company", company), ("provider", provider), ("consumer", consumer),
                                      ("item", item))
                  if v is not None)  # fmt: skip
    query = RecordQuery(kind=kind, author=author, terms=terms, since=period_bound(since, "since"),
                        until=period_bound(until, "until"))  # fmt: skip
    views, next_start = ledger.list_records(viewer, start=start, limit=limit, query=query)
    return RecordListOut(records=[v.to_json() for v in views], next_start=next_start)


@router.get("/records/{record_id}")
def get_record(ledger: LedgerDep, viewer: ViewerDep, record_id: RecordId) -> dict[str, Any]:
    """The record's envelope and place in the log; payload and salt only for the author,
    the operator and regulators."""
    return ledger.record(record_id, viewer).to_json()


@router.get("/records/{record_id}/receipt")
def get_receipt(ledger: LedgerDep, viewer: ViewerDep, record_id: RecordId) -> dict[str, Any]:
    """The record's receipt (``tds-ledger/receipt@1``) against the latest checkpoint."""
    return ledger.receipt(record_id, viewer).to_json()


@router.get("/records/{record_id}/lineage")
def get_lineage(
    ledger: LedgerDep,
    viewer: ViewerDep,
    record_id: RecordId,
    direction: Annotated[str, Query(pattern="^(ancestors|descendants|both)$", description="ancestors, descendants or both")] = "ancestors",
    depth: Annotated[int, Query(ge=0, le=MAX_DEPTH, description="levels to follow")] = 16,
) -> dict[str, Any]:
    """The record's lineage graph: nodes (each with a link to its receipt; one the caller
    may not see as its leaf hash only) and typed edges from a record to what it derives from."""
    return ledger.lineage(record_id, viewer, direction=direction, depth=depth).to_json()


@router.get("/records/{record_id}/disclosures", tags=["disclosure"])
def get_disclosures(ledger: LedgerDep, caller: CallerDep, record_id: RecordId) -> DisclosuresOut:
    """Who the record's payload is disclosed to (its author, the operator and regulators may ask)."""
    return DisclosuresOut(id=record_id, grantees=ledger.disclosures(record_id, caller))


@router.post("/records/{record_id}/disclosures", tags=["disclosure"], openapi_extra=json_body_doc(DISCLOSE_SCHEMA))
def disclose(ledger: LedgerDep, caller: CallerDep, record_id: RecordId, body: JSONBody) -> DisclosuresOut:
    """Disclose the payload to named participants (the record's author only): they may then
    see the record, read its payload and roll it up into their own footprints."""
    return DisclosuresOut(id=record_id, grantees=ledger.disclose(record_id, disclose_from_json(body), caller))


@router.delete("/records/{record_id}/disclosures/{grantee}", tags=["disclosure"])
def withdraw(ledger: LedgerDep, caller: CallerDep, record_id: RecordId,
             grantee: Annotated[str, Path(pattern=formats.anchored(formats.ADDRESS), description="the grantee's address")],
             ) -> DisclosuresOut:  # fmt: skip
    """Withdraw a disclosure (the author only). Records already built on it stay as admitted."""
    return DisclosuresOut(id=record_id, grantees=ledger.withdraw_disclosure(record_id, grantee, caller))


@router.delete("/records/{record_id}/payload")
def erase_payload(ledger: LedgerDep, caller: CallerDep, record_id: RecordId) -> dict[str, Any]:
    """Erase the record's payload and salt (author or operator). The entry and its proofs stay."""
    ledger.erase(record_id, caller)
    return ledger.record(record_id, caller).to_json()
