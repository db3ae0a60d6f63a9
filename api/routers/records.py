"""Records: submit (one or a batch), read, list, receipt, erase a payload.

Who may submit: a caller with a valid token whose address is the envelope's author, or
the operator (who may relay records others signed). The ledger itself then checks the
author's signature and every admission rule (``ledger.log``). A record another viewer
may not see answers exactly as a missing one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from api.deps import CallerDep, JSONBody, LedgerDep, ViewerDep
from api.schemas import (
    BATCH_SCHEMA,
    SUBMISSION_SCHEMA,
    AppendedOut,
    RecordListOut,
    batch_from_json,
    json_body_doc,
    submission_from_json,
)
from ledger.access import Viewer
from ledger.errors import Forbidden
from ledger.store import Appended
from ledger.submission import Submission

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


def _appended(a: Appended) -> dict[str, Any]:
    return {"id": a.record_id, "leaf_index": a.leaf_index, "leaf_hash": a.leaf_hash.hex(), "duplicate": a.duplicate}


@router.post(
    "/records",
    status_code=201,
    openapi_extra=json_body_doc(SUBMISSION_SCHEMA),
    responses={200: {"description": "the same record was already stored (idempotent)", "model": AppendedOut}},
)
def submit_record(ledger: LedgerDep, caller: CallerDep, body: JSONBody, response: Response) -> AppendedOut:
    """Append one signed record. 201 when appended, 200 when it was already stored."""
    sub = submission_from_json(body)
    check_may_submit(caller, [sub])
    [appended] = ledger.submit([sub])
    if appended.duplicate:
        response.status_code = 200
    return AppendedOut(**_appended(appended))


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
    author: str | None = None,
    kind: str | None = None,
    start: Annotated[int, Query(ge=0, le=2**63 - 1, description="first leaf index to look at")] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_LIST, description="leaf indexes to look at")] = 100,
) -> RecordListOut:
    """Records visible to the caller, in log order, from ``start``.

    A page looks at up to ``limit`` matching entries and returns those the caller may
    see, so a page may hold fewer; ``next_start`` continues after it.
    """
    views, next_start = ledger.list_records(viewer, start=start, limit=limit, author=author, kind=kind)
    return RecordListOut(records=[v.to_json() for v in views], next_start=next_start)


@router.get("/records/{record_id}")
def get_record(ledger: LedgerDep, viewer: ViewerDep, record_id: str) -> dict[str, Any]:
    """The record's envelope and place in the log; payload and salt only for the author,
    the operator and regulators."""
    return ledger.record(record_id, viewer).to_json()


@router.get("/records/{record_id}/receipt")
def get_receipt(ledger: LedgerDep, viewer: ViewerDep, record_id: str) -> dict[str, Any]:
    """The record's receipt (``tds-ledger/receipt@1``) against the latest checkpoint."""
    return ledger.receipt(record_id, viewer).to_json()


@router.delete("/records/{record_id}/payload")
def erase_payload(ledger: LedgerDep, caller: CallerDep, record_id: str) -> dict[str, Any]:
    """Erase the record's payload and salt (author or operator). The entry and its proofs stay."""
    ledger.erase(record_id, caller)
    return ledger.record(record_id, caller).to_json()
