"""The demo's data contract: the cell maker offers its cell test results, a pack analytics
firm agrees, and six access events are logged under the agreement, four of which break it.

- ``cell-supplier`` offers the dataset ``demo-cell-test-results-2026w12`` under ODRL terms:
  use for the purpose ``battery-passport``, in Germany, France or the Netherlands, during
  2026, at most four times (every event counts); never ``distribute``; delete the copy by the end of January
  2027 (a duty of the permission).
- ``pack-analytics`` requests exactly those terms; ``cell-supplier`` concludes the agreement.
- Events reported by ``pack-analytics``: a permitted read (DE); a read for ``marketing``
  (violation: purpose); a read from the US (violation: spatial); a permitted read (NL); a
  fifth read (violation: count 5 > 4); a ``distribute`` (violation: prohibited). The last
  one is reported more than a day after it happened, so it is flagged ``late``.

Fixed ids, so loading again finds them; each record is submitted only if missing. Times
are fixed in 2026, before the demo's first release date, so ``issued_at`` is never in
the future.
"""

from __future__ import annotations

from typing import Any

from ledger.datadir import signed_submission
from ledger.errors import NotFound
from ledger.log import Ledger

ODRL_CONTEXT = "http://www.w3.org/ns/odrl.jsonld"
DATASET = "demo-cell-test-results-2026w12"
OFFER = "urn:uuid:6f1c2a40-7d3b-4c8e-9a51-2b7e0c4d1a01"
REQUEST = "urn:uuid:6f1c2a40-7d3b-4c8e-9a51-2b7e0c4d1a02"
AGREEMENT = "urn:uuid:6f1c2a40-7d3b-4c8e-9a51-2b7e0c4d1a03"
PROVIDER, CONSUMER = "cell-supplier", "pack-analytics"

RULES: dict[str, Any] = {
    "permission": [{
        "action": "use",
        "constraint": [{"and": [
            {"leftOperand": "purpose", "operator": "eq", "rightOperand": "battery-passport"},
            {"leftOperand": "spatial", "operator": "isAnyOf", "rightOperand": ["DE", "FR", "NL"]},
            {"leftOperand": "dateTime", "operator": "gteq", "rightOperand": "2026-01-01T00:00:00Z"},
            {"leftOperand": "dateTime", "operator": "lt", "rightOperand": "2027-01-01T00:00:00Z"},
            {"leftOperand": "count", "operator": "lteq", "rightOperand": 4},
        ]}],
        "duty": [{"action": "delete",
                  "constraint": [{"leftOperand": "dateTime", "operator": "lteq", "rightOperand": "2027-01-31T23:59:59Z"}]}],
    }],
    "prohibition": [{"action": "distribute"}],
}  # fmt: skip

#: (record id suffix, action, purpose, spatial, at, issued_at)
EVENTS = (
    ("e1", "read", "battery-passport", "DE", "2026-03-02T09:00:00Z", "2026-03-02T09:05:00Z"),
    ("e2", "read", "marketing", "DE", "2026-04-10T14:00:00Z", "2026-04-10T14:01:00Z"),
    ("e3", "read", "battery-passport", "US", "2026-05-05T16:30:00Z", "2026-05-05T16:31:00Z"),
    ("e4", "read", "battery-passport", "NL", "2026-06-01T08:00:00Z", "2026-06-01T08:02:00Z"),
    ("e5", "read", "battery-passport", "DE", "2026-07-15T10:00:00Z", "2026-07-15T10:01:00Z"),
    ("e6", "distribute", "battery-passport", "DE", "2026-08-03T11:00:00Z", "2026-08-06T09:00:00Z"),
)


def event_id(suffix: str) -> str:
    return f"demo-access-{suffix}"


def load_contracts(ledger: Ledger, keys: dict[str, bytes], addresses: dict[str, str]) -> tuple[bool, list[str]]:
    """Submit the demo contract's records that are missing; (whether any was, their ids)."""
    operator = ledger.viewer_for(ledger.log.operator)
    changed = False

    def leaf(record_id: str) -> str:
        return ledger.record(record_id, operator).entry.leaf_hash.hex()

    def ensure(record_id: str, author: str, kind: str, payload: Any, parents: tuple[str, ...],
               issued_at: str | None = None) -> None:  # fmt: skip
        nonlocal changed
        try:
            ledger.record(record_id, operator)
            return
        except NotFound:
            pass
        sub = signed_submission(ledger, keys[author], kind=kind, payload=payload, parents=tuple(leaf(p) for p in parents),
                                record_id=record_id, issued_at=issued_at)  # fmt: skip
        ledger.submit([sub])
        changed = True

    provider, consumer = addresses[PROVIDER], addresses[CONSUMER]
    offer = {"@context": ODRL_CONTEXT, "@id": OFFER, "@type": "Offer", "target": DATASET, "assigner": provider, **RULES}
    ensure(OFFER, PROVIDER, "contract_offer", offer, (DATASET,), "2026-02-01T09:00:00Z")
    request = {"@context": {"@vocab": "https://w3id.org/edc/v0.0.1/ns/"}, "@type": "ContractRequest",
               "counterPartyId": "cell-supplier", "counterPartyAddress": "https://connector.cell-supplier.example/protocol",
               "protocol": "dataspace-protocol-http:2025-1", "policy": offer}  # fmt: skip
    ensure(REQUEST, CONSUMER, "contract_request", request, (OFFER,), "2026-02-10T10:00:00Z")
    agreement = {"@context": ODRL_CONTEXT, "@id": AGREEMENT, "@type": "Agreement", "target": DATASET,
                 "timestamp": "2026-02-11T12:00:00Z", "assigner": provider, "assignee": consumer, **RULES}  # fmt: skip
    ensure(AGREEMENT, PROVIDER, "contract_agreement", agreement, (OFFER, REQUEST), "2026-02-11T12:00:00Z")
    ids = [OFFER, REQUEST, AGREEMENT]
    for suffix, action, purpose, spatial, at, issued_at in EVENTS:
        body = {"agreement": AGREEMENT, "actor": consumer, "action": action, "dataset": DATASET, "at": at,
                "purpose": purpose, "spatial": spatial, "transfer_process_id": f"demo-transfer-{suffix}"}  # fmt: skip
        ensure(event_id(suffix), CONSUMER, "access_event", body, (AGREEMENT,), issued_at)
        ids.append(event_id(suffix))
    return changed, ids
