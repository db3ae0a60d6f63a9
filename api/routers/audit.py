"""``GET /v1/audit/bundle``: the regulator's audit bundle of a period (DESIGN §11).

For the regulator and operator roles only (a bundle carries every payload in scope).
The bundle is written to a temporary file (memory flat; spilled to disk past 8 MiB)
before the first byte is sent, so an error is a problem+json answer, never a cut-off
download: 409 when no final anchored checkpoint covers the period's end yet (the
server's sealer anchors on its own schedule: ask again later), 400 for a bad period.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from collections.abc import Iterator
from typing import IO, Annotated

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from api.deps import CallerDep, LedgerDep, SettingsDep
from api.routers.records import PERIOD, URN, RecordId
from api.schemas import period_bound
from ledger import formats
from ledger.bundle import BUNDLE_TYPE, Scope
from ledger.bundle_export import export_bundle
from ledger.chain.access import anchor_reader
from ledger.errors import Forbidden, MalformedInput

router = APIRouter(tags=["audit"])
MEDIA_TYPE = "application/x-ndjson"
_SPOOL = 8 << 20


def _chunks(f: IO[bytes]) -> Iterator[bytes]:
    try:
        while chunk := f.read(1 << 16):
            yield chunk
    finally:
        f.close()


@router.get("/audit/bundle", response_class=StreamingResponse,
            responses={200: {"content": {MEDIA_TYPE: {}}, "description": f"a {BUNDLE_TYPE} bundle (JSON Lines)"}})  # fmt: skip
def get_audit_bundle(
    ledger: LedgerDep,
    settings: SettingsDep,
    viewer: CallerDep,
    since: Annotated[str, Query(pattern=PERIOD, description="period start (RFC 3339 UTC, or a date)")],
    until: Annotated[str, Query(pattern=f"^anchored$|{PERIOD}",
                                description="period end (RFC 3339 UTC, a date: its end, or 'anchored': the latest "
                                            "final anchor's block time)")],  # fmt: skip
    participant: Annotated[str | None, Query(pattern=formats.anchored(formats.ADDRESS))] = None,
    agreement: RecordId | None = None,
    product: Annotated[str | None, Query(pattern=formats.anchored(URN), description="a product id, e.g. urn:gtin:…")] = None,
    kind: Annotated[str | None, Query(pattern=formats.anchored(formats.KIND))] = None,
    context_proofs: Annotated[bool, Query(description="earlier records with inclusion proofs instead of the range "
                                                      "reaching back to them (smaller; their history rests on the ledger)")] = False,  # fmt: skip
) -> StreamingResponse:
    """Every entry between the anchored checkpoints around the period, with the payloads,
    derived states and proofs of the records in scope (docs/audit-bundle.md)."""
    if not viewer.is_privileged:
        raise Forbidden(f"only regulators and the operator may export an audit bundle; the token is for {viewer.address}")
    start = period_bound(since, "since")
    end = None if until == "anchored" else period_bound(until, "until")
    assert start is not None
    if end is not None and start > end:
        raise MalformedInput(f"since ({since}) is after until ({until})")
    reader = anchor_reader(settings, chain_id=ledger.log.chain_id, contract=ledger.log.contract)
    spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL)
    try:
        export_bundle(ledger, reader, spool, since=start, until=end,
                      scope=Scope(participant=participant, agreement=agreement, product=product, kind=kind),
                      context_proofs=context_proofs)  # fmt: skip
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    name = f"audit-{start.date().isoformat()}-{(end or datetime.now(UTC)).date().isoformat()}.jsonl"
    return StreamingResponse(_chunks(spool), media_type=MEDIA_TYPE,
                             headers={"Content-Disposition": f'attachment; filename="{name}"'})  # fmt: skip
