"""Footprints as the PACT API serves them: which, in what form, a page at a time.

**What is served.** A ``pcf`` record of PACT v3 (``specVersion`` 3.x) whose payload the
caller may read (``RecordView.payload_visible``: its author, a participant it was
disclosed to, anyone for a public footprint, the operator and regulators) and that was not
erased. v2 footprints, which the ledger also admits, are not served under ``/pact/3``:
they would not be v3 documents.

**In what form** (``served``). The payload exactly as signed, but for one member:
``status`` is the ledger's derived status (``Active``, or ``Deprecated`` once a later
footprint of the same company lists it in ``precedingPfIds``; any other derived status
would be served as ``Deprecated``, the only other value PACT has). The signed payload in
the record's receipt keeps the status it was signed with.

**A page** (``page``). Candidates come from ``Ledger.list_records`` in log order, kind
``pcf``, visibility filtered in SQL. ``productId`` (or, without it, ``companyId``) uses the
ledger's index terms: one query per value, merged by leaf index, so a product filter
reads only that product's entries. Every other criterion is matched on the payloads
(``FootprintFilter.matches``). The cursor is the leaf index to continue from; at most
``MAX_SCAN`` candidates are read per page, so a page may hold fewer than ``limit``
footprints and still have a next one. Otherwise a next cursor is given only when a
further matching footprint exists, and the next page starts with it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from api.pact.filters import FootprintFilter
from ledger.access import Viewer, missing
from ledger.canonical import parse_json
from ledger.log import Ledger
from ledger.views import RecordQuery, RecordView

#: Candidates read for one page at most, whatever the criteria.
MAX_SCAN = 5000
ACTIVE, DEPRECATED = "Active", "Deprecated"
#: The member of our answers (beside ``data``, or ``data.pfs`` in an event) with the receipt links.
RECEIPTS = "x-tdsl-receipts"


@dataclass(frozen=True, slots=True)
class Served:
    """One footprint as served: the record's id and place in the log, and the document."""

    record_id: str
    leaf_index: int
    footprint: dict[str, Any]


def served(view: RecordView) -> Served | None:
    """The footprint as the PACT API serves it to the view's viewer, or None if it does not."""
    e = view.entry
    if e.kind != "pcf" or not view.payload_visible or e.payload is None:
        return None
    fp = parse_json(e.payload)
    if not isinstance(fp, dict) or not str(fp.get("specVersion", "")).startswith("3."):
        return None
    derived = view.state.status if view.state is not None else fp.get("status")
    fp["status"] = ACTIVE if derived == ACTIVE else DEPRECATED
    return Served(e.record_id, e.leaf_index, fp)


def receipt_links(root_url: str, found: list[Served]) -> dict[str, str]:
    """Each footprint's id → the absolute URL of its receipt under ``root_url`` (the app's root)."""
    root = root_url.rstrip("/")
    return {s.record_id: f"{root}/v1/records/{quote(s.record_id, safe='')}/receipt" for s in found}


def one(ledger: Ledger, viewer: Viewer, pf_id: str) -> Served:
    """The footprint ``pf_id``, or the ``NotFound`` of a missing record (also when the
    viewer may not read it)."""
    found = served(ledger.record(pf_id, viewer))
    if found is None:
        raise missing(pf_id)
    return found


class _Stream:
    """Records of one ``list_records`` query, read ahead in batches."""

    def __init__(self, ledger: Ledger, viewer: Viewer, query: RecordQuery, start: int, batch: int):
        self.ledger, self.viewer, self.query = ledger, viewer, query
        self.start, self.batch = start, batch
        self.buffer: deque[RecordView] = deque()
        self.done = False

    def head(self) -> RecordView | None:
        if not self.buffer and not self.done:
            views, nxt = self.ledger.list_records(self.viewer, start=self.start, limit=self.batch, query=self.query)
            self.buffer.extend(views)
            self.done = nxt is None
            self.start = nxt if nxt is not None else self.start
        return self.buffer[0] if self.buffer else None


def candidates(ledger: Ledger, viewer: Viewer, criteria: FootprintFilter, *, start: int,
               batch: int) -> Iterator[RecordView]:  # fmt: skip
    """Visible ``pcf`` records from leaf index ``start`` in log order, narrowed by the index
    terms of the criteria (each record once)."""
    if criteria.product_ids:
        queries = [RecordQuery(kind="pcf", terms=(("product", v),)) for v in criteria.product_ids]
    elif criteria.company_ids:
        queries = [RecordQuery(kind="pcf", terms=(("company", v),)) for v in criteria.company_ids]
    else:
        queries = [RecordQuery(kind="pcf")]
    streams = [_Stream(ledger, viewer, q, start, batch) for q in queries]
    while True:
        heads = [(h.entry.leaf_index, i) for i, s in enumerate(streams) if (h := s.head()) is not None]
        if not heads:
            return
        index = min(heads)[0]
        view = None
        for at, i in heads:
            if at == index:  # the same record from several terms: once
                view = streams[i].buffer.popleft()
        assert view is not None
        yield view


def page(ledger: Ledger, viewer: Viewer, criteria: FootprintFilter, *, start: int,
         limit: int) -> tuple[list[Served], int | None]:  # fmt: skip
    """At most ``limit`` served footprints meeting ``criteria`` from leaf index ``start``,
    and the index to continue from (None when nothing further matches)."""
    only_terms = not (criteria.geography or criteria.classifications or criteria.statuses
                      or criteria.valid_on or criteria.valid_after or criteria.valid_before)  # fmt: skip
    batch = min(limit + 1, 1000) if only_terms else 500
    out: list[Served] = []
    scanned = 0
    for view in candidates(ledger, viewer, criteria, start=start, batch=batch):
        if scanned == MAX_SCAN:
            return out, view.entry.leaf_index
        scanned += 1
        fp = served(view)
        if fp is None or not criteria.matches(fp.footprint):
            continue
        if len(out) == limit:  # one more exists: the next page starts with it
            return out, fp.leaf_index
        out.append(fp)
    return out, None


def collect(ledger: Ledger, viewer: Viewer, criteria: FootprintFilter, *, at_most: int) -> list[Served]:
    """Every served footprint meeting ``criteria`` (at most ``at_most``), in log order."""
    out: list[Served] = []
    start: int | None = 0
    while start is not None and len(out) < at_most:
        found, start = page(ledger, viewer, criteria, start=start, limit=at_most - len(out))
        out.extend(found)
    return out
