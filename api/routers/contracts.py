"""Contracts: an agreement with both signatures and its events, the violations of a
period, a dataset's agreements (DESIGN §8, §10; ``ledger.contract_views``).

Regulators and the operator see every agreement and event; the two parties see their own
(each record of a negotiation is disclosed to the other party); anyone else sees none —
an agreement they may not see answers exactly as a missing one.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.deps import LedgerDep, ViewerDep
from api.routers.records import MAX_LIST, PERIOD, RecordId
from api.schemas import PageOut, period_bound
from ledger import contract_views, formats
from ledger.views import RecordQuery

router = APIRouter(tags=["contracts"])

Address = Annotated[str | None, Query(pattern=formats.anchored(formats.ADDRESS), description="a party's address")]
Start = Annotated[int, Query(ge=0, le=2**63 - 1, description="first leaf index to look at")]
Limit = Annotated[int, Query(ge=1, le=MAX_LIST, description="items per page")]


def _now() -> datetime:
    return datetime.now(timezone.utc)


@router.get("/contracts/{agreement_id}")
def get_contract(ledger: LedgerDep, viewer: ViewerDep, agreement_id: RecordId, start: Start = 0,
                 limit: Limit = 100) -> dict[str, Any]:  # fmt: skip
    """The agreement, the offer and request it concludes, both parties' signatures (the
    provider's on the agreement, the consumer's on the request), its state and duties as
    of now, and a page of its access events with their verdicts (``next_start`` reads on)."""
    return contract_views.contract(ledger, agreement_id, viewer, as_of=_now(), start=start, limit=limit)


@router.get("/violations")
def list_violations(
    ledger: LedgerDep,
    viewer: ViewerDep,
    since: Annotated[str | None, Query(pattern=PERIOD, description="issued_at at or after (RFC 3339 UTC, or a date)")] = None,
    until: Annotated[str | None, Query(pattern=PERIOD, description="issued_at at or before (RFC 3339 UTC, or a date: its end)")] = None,
    provider: Address = None,
    consumer: Address = None,
    dataset: Annotated[str | None, Query(pattern=formats.anchored(formats.RECORD_ID), description="a dataset record id")] = None,
    agreement: Annotated[str | None, Query(pattern=formats.anchored(formats.RECORD_ID), description="an agreement record id")] = None,
    start: Start = 0,
    limit: Limit = 100,
) -> PageOut:
    """Access events judged ``violation``, in log order, that the caller may see: all of them
    for regulators and the operator, their own agreements' for the two parties. ``since``/
    ``until`` bound the event's ``issued_at`` (when it was signed and reported); each item
    also shows the event's own ``at`` and whether it was reported ``late``."""
    terms = tuple((n, v) for n, v in (("agreement", agreement), ("dataset", dataset), ("provider", provider),
                                      ("consumer", consumer)) if v is not None)  # fmt: skip
    query = RecordQuery(terms=terms, since=period_bound(since, "since"), until=period_bound(until, "until"))
    page = contract_views.violations(ledger, viewer, query=query, as_of=_now(), start=start, limit=limit)
    return PageOut(items=page.items, next_start=page.next_start)


@router.get("/datasets/{dataset_id}/agreements")
def list_dataset_agreements(ledger: LedgerDep, viewer: ViewerDep, dataset_id: RecordId, start: Start = 0,
                            limit: Limit = 100) -> PageOut:  # fmt: skip
    """The agreements on a dataset that the caller may see, with their states."""
    page = contract_views.dataset_agreements(ledger, dataset_id, viewer, start=start, limit=limit)
    return PageOut(items=page.items, next_start=page.next_start)
