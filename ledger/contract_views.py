"""What the ledger answers about contracts (DESIGN §8, §10): an agreement with both
signatures, its state, duties and events; the violations of a period; a dataset's
agreements. Built on ``Ledger.record`` and ``Ledger.list_records``, so every answer holds
only what the viewer may see: regulators and the operator see everything; a party sees
its agreements and their events (the kinds disclose each to the other party); any other
participant sees offers (public) and nothing else.

Choices:

- ``violations`` filters by ``issued_at`` (when the event was signed and reported, which
  is indexed and which a bundle proves), not by the event's own ``at``; each item shows
  both, and ``late`` says when they lie more than a day apart.
- Duty states are the cached derived state (``ledger.odrl.duties``) read as of the time
  of the question (``as_of``): an open duty past its deadline answers ``overdue``.
- Pages: ``start`` (a leaf index) and ``limit``, continued by ``next_start``, as
  ``/v1/records`` does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ledger.access import Viewer
from ledger.eip712 import to_checksum_address
from ledger.errors import NotFound
from ledger.log import Ledger
from ledger.odrl import duties
from ledger.views import RecordQuery, RecordView, state_json

MAX_PAGE = 1000


def _term(v: RecordView, name: str) -> str | None:
    value = next((t.value for t in v.terms if t.name == name), None)
    if value is not None and name in ("provider", "consumer"):  # stored lowercased; shown as addresses are
        return to_checksum_address(value)
    return value


def _payload(v: RecordView) -> dict[str, Any] | None:
    payload = v.payload_json()
    return payload if isinstance(payload, dict) else None


def _signature(v: RecordView) -> dict[str, Any]:
    env = v.envelope.to_json()
    return {"record_id": v.entry.record_id, "kind": v.entry.kind, "author": v.entry.author,
            "leaf_index": v.entry.leaf_index, "sig": env["sig"], "issued_at": env["issued_at"]}  # fmt: skip


def _duty_list(state_facts: tuple[tuple[str, str], ...], as_of: datetime) -> list[dict[str, Any]]:
    return [
        {"duty": path, "status": d.status_at(as_of), "open_since_event": d.since or None, "deadline": d.deadline,
         "fulfilled_by": d.fulfilled_by, "fulfilled_at_event": d.fulfilled_at or None}  # fmt: skip
        for path, d in duties.from_facts(state_facts).items()
    ]


def event_json(v: RecordView, agreement_duties: dict[str, duties.DutyState] | None, as_of: datetime) -> dict[str, Any]:
    """An access event with its verdict (and, given the agreement's duty states, its duties)."""
    st = v.state
    facts = dict(st.facts) if st is not None else {}
    verdict: dict[str, Any] = {
        "status": st.status if st is not None else None,
        "reason": (st.reason or None) if st is not None else None,
        "rule": facts.get("rule"), "constraint": facts.get("constraint"), "value": facts.get("value"),
        "count": int(facts["count"]) if "count" in facts else None, "late": facts.get("late") == "true",
    }  # fmt: skip
    if "performs" in facts:
        verdict["performs"] = facts["performs"].split(",")
    if "duties" in facts:
        count = verdict["count"] or 0
        verdict["duties"] = [
            {"duty": path, "status": agreement_duties[path].status_for(count, as_of)
             if agreement_duties and path in agreement_duties else None}  # fmt: skip
            for path in facts["duties"].split(",")
        ]
    out: dict[str, Any] = {
        "id": v.entry.record_id, "leaf_index": v.entry.leaf_index, "issued_at": v.envelope.issued_at,
        "author": v.entry.author, "agreement": _term(v, "agreement"), "dataset": _term(v, "dataset"),
        "provider": _term(v, "provider"), "consumer": _term(v, "consumer"), "verdict": verdict,
        "receipt": f"/v1/records/{v.entry.record_id}/receipt",
    }  # fmt: skip
    payload = _payload(v)
    if payload is not None:
        out["event"] = {k: payload.get(k) for k in ("actor", "action", "at", "purpose", "spatial", "transfer_process_id")}
    return out


def _parents(ledger: Ledger, v: RecordView, viewer: Viewer) -> list[RecordView]:
    """The record's parents that the viewer may see."""
    found = ledger.store.entries_by_leaf_hash(ledger.log.id, [bytes.fromhex(h) for h in v.envelope.parents])
    out = []
    for e in found.values():
        try:
            out.append(ledger.record(e.record_id, viewer))
        except NotFound:
            pass
    return out


@dataclass(frozen=True, slots=True)
class Page:
    items: list[dict[str, Any]]
    next_start: int | None


def contract(ledger: Ledger, agreement_id: str, viewer: Viewer, *, as_of: datetime, start: int = 0,
             limit: int = 100) -> dict[str, Any]:  # fmt: skip
    """The agreement, the offer and request it concludes, both parties' signatures, its
    state and duties, and a page of its access events with their verdicts."""
    agr = ledger.record(agreement_id, viewer)
    if agr.entry.kind != "contract_agreement":
        raise NotFound(f"no agreement {agreement_id!r} (record {agreement_id!r} is a {agr.entry.kind})")
    parents = _parents(ledger, agr, viewer)
    offer = next((p for p in parents if p is not None and p.entry.kind == "contract_offer"), None)
    request = next((p for p in parents if p is not None and p.entry.kind == "contract_request"), None)
    state = agr.state
    dstates = duties.from_facts(state.facts) if state is not None else {}
    events, next_start = ledger.list_records(viewer, start=start, limit=limit,
                                             query=RecordQuery(kind="access_event", terms=(("agreement", agreement_id),)))  # fmt: skip
    return {
        "agreement": agr.to_json(),
        "offer": None if offer is None else offer.to_json(),
        "request": None if request is None else request.to_json(),
        "signatures": {"provider": _signature(agr), "consumer": None if request is None else _signature(request)},
        "provider": _term(agr, "provider"),
        "consumer": _term(agr, "consumer"),
        "state": state_json(state),
        "duties": _duty_list(state.facts if state is not None else (), as_of),
        "as_of": as_of.isoformat().replace("+00:00", "Z"),
        "events": [event_json(e, dstates, as_of) for e in events],
        "next_start": next_start,
    }


def violations(ledger: Ledger, viewer: Viewer, *, query: RecordQuery, as_of: datetime, start: int = 0,
               limit: int = 100) -> Page:  # fmt: skip
    """Access events judged ``violation`` that match ``query`` (kind and status are set here)."""
    q = RecordQuery(kind="access_event", author=query.author, terms=query.terms, since=query.since, until=query.until,
                    status="violation")  # fmt: skip
    views, next_start = ledger.list_records(viewer, start=start, limit=limit, query=q)
    return Page([event_json(v, None, as_of) for v in views], next_start)


def dataset_agreements(ledger: Ledger, dataset_id: str, viewer: Viewer, *, start: int = 0, limit: int = 100) -> Page:
    """The agreements on a dataset the viewer may see, with their states."""
    ds = ledger.record(dataset_id, viewer)
    if ds.entry.kind != "dataset":
        raise NotFound(f"no dataset {dataset_id!r} (record {dataset_id!r} is a {ds.entry.kind})")
    views, next_start = ledger.list_records(viewer, start=start, limit=limit,
                                            query=RecordQuery(kind="contract_agreement", terms=(("dataset", dataset_id),)))  # fmt: skip
    items = [
        {"id": v.entry.record_id, "leaf_index": v.entry.leaf_index, "issued_at": v.envelope.issued_at,
         "provider": _term(v, "provider"), "consumer": _term(v, "consumer"), "state": state_json(v.state),
         "contract": f"/v1/contracts/{v.entry.record_id}"}  # fmt: skip
        for v in views
    ]
    return Page(items, next_start)
