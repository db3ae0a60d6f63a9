"""What the GS1 Digital Link resolver, the public passport page and the issuer's endpoints
show (DESIGN §12), built from ``Ledger`` reads as an anonymous viewer: a passport is
public, and so is what the page shows of its lineage (values where a footprint is public,
hashes where not).

- ``current``: the passport a Digital Link resolves to. The newest passport of the link's
  own path that is not superseded; an item or batch with none falls back to the model
  (``/01/<GTIN>``), as GS1 resolvers walk up the identifier hierarchy. A revoked passport
  still resolves (and shows as revoked everywhere).
- ``page``: the typed values the page, its JSON and its linkset are made from.
- ``linkset``: the RFC 9264 linkset of a passport's links.
- ``status_list_credential``: an issuer's status list credential; its bits are the ``status_index``
  facts of the issuer's passports whose derived state is ``revoked`` (``passport_revocation``
  records set it; ``tdsl audit`` recomputes it). It is served unsecured: the ledger holds
  no issuer key, and every bit is backed by a signed, anchored revocation record.
- ``did_document``: the issuer's did:web document, its key recovered from the signature of
  the issuer's newest record (a participant that never signed a record has no key yet).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from ledger import gs1, vcjose
from ledger import status_list as bitstring
from ledger.access import ANONYMOUS
from ledger.envelope import Envelope, author_public_key
from ledger.errors import NotFound
from ledger.kinds.base import PayloadUnavailable
from ledger.kinds.passport import REVOKED, STATUS_PATH, SUPERSEDED, Passport, parse_passport
from ledger.kinds.pcf import parse_pcf
from ledger.passport_builder import host_of
from ledger.lineage_render import RenderEdge, RenderNode, render_svg
from ledger.log import Ledger
from ledger.receipt import Receipt
from ledger.store.values import ParticipantInfo
from ledger.views import RecordQuery, RecordView

#: GS1 and UNTP link types a passport answers (``?linkType=``).
PIP = "gs1:pip"  # the product information page: our public page
DPP = "untp:dpp"  # the passport credential
SUSTAINABILITY = "gs1:sustainabilityInfo"  # the credential too (its emissions scorecard)
CERTIFICATION = "gs1:certificationInfo"  # the conformity claims: the credential
LINK_TYPES = (PIP, DPP, SUSTAINABILITY, CERTIFICATION)
LINK_TYPE_IRIS = {
    PIP: "https://gs1.org/voc/pip",
    SUSTAINABILITY: "https://gs1.org/voc/sustainabilityInfo",
    CERTIFICATION: "https://gs1.org/voc/certificationInfo",
    DPP: "https://test.uncefact.org/vocabulary/linkTypes/dpp",
}


def _versions(ledger: Ledger, path: str) -> list[RecordView]:
    views, start, out = [], 0, []
    while start is not None:
        views, start = ledger.list_records(ANONYMOUS, start=start, limit=1000,
                                           query=RecordQuery(kind="passport", terms=(("item", path),)))  # fmt: skip
        out += views
    return out


def current(ledger: Ledger, link: gs1.DigitalLink) -> RecordView:
    """The passport ``link`` resolves to (module docstring); ``NotFound`` saying so."""
    paths = [link.path()]
    if link.level != "model":
        paths.append(gs1.DigitalLink(gtin=link.gtin, serial=None, lot=None, link_type=None).path())
    for path in paths:
        live = [v for v in _versions(ledger, path) if v.state is None or v.state.status != SUPERSEDED]
        if live:
            return live[-1]
    raise NotFound(f"no passport for {link.path()} (nor for its model {paths[-1]}) in this ledger")


@dataclass(frozen=True, slots=True)
class FootprintFigure:
    """The footprint the passport describes, as the page shows it."""

    record_id: str
    leaf_hash: str
    value: str | None  # pcfExcludingBiogenicUptake per declared unit amount; None: not public
    unit: str | None
    amount: str | None
    status: str | None


@dataclass(frozen=True, slots=True)
class PassportPage:
    record: RecordView
    passport: Passport
    status: str  # active | revoked
    status_reason: str
    issuer: ParticipantInfo | None
    footprint: FootprintFigure | None
    lineage: LineagePicture | None
    receipt: Receipt
    canonical_uri: str  # the Digital Link URI of the passport's own path at the public URL
    versions: tuple[str, ...]  # record ids of every version of its path, oldest first
    #: When the ledger sent the anchoring transaction (its clock, not the chain's; the block
    #: number says where the chain put it). None until anchored.
    anchor_sent_at: datetime | None = None

    @property
    def lineage_svg(self) -> str | None:
        """The lineage picture with English labels."""
        return None if self.lineage is None else self.lineage.svg()

    @property
    def anchor(self) -> dict[str, Any] | None:
        return None if self.receipt.anchor is None else self.receipt.anchor.to_json()

    def proof_bundle(self, origin: str, vkey: str) -> dict[str, Any]:
        """What the page's verification panel checks (``ledger/web/static/tdsl-verify.js``)."""
        import base64

        r = self.receipt
        leaf = r.entry.to_bytes()
        return {
            "origin": origin, "vkey": vkey, "record_id": self.record.entry.record_id, "leaf_index": r.leaf_index,
            "tree_size": r.tree_size, "leaf": base64.b64encode(leaf).decode(),
            "leaf_hash": self.record.entry.leaf_hash.hex(), "inclusion_proof": [h.hex() for h in r.inclusion_proof],
            "checkpoint": r.checkpoint,
        }  # fmt: skip


def _footprint(ledger: Ledger, view: RecordView) -> FootprintFigure | None:
    parents = ledger.store.entries_by_leaf_hash(ledger.log.id, [bytes.fromhex(view.envelope.parents[0])])
    entry = next(iter(parents.values()), None)
    if entry is None:
        return None
    try:
        fp_view = ledger.record(entry.record_id, ANONYMOUS)
    except NotFound:
        return FootprintFigure(entry.record_id, entry.leaf_hash.hex(), None, None, None, None)
    payload = fp_view.payload_json()
    status = fp_view.state.status if fp_view.state else None
    if payload is None:
        return FootprintFigure(entry.record_id, entry.leaf_hash.hex(), None, None, None, status)
    fp = parse_pcf(payload).view
    return FootprintFigure(entry.record_id, entry.leaf_hash.hex(), fp.pcf_excluding_biogenic_uptake.text,
                           fp.declared_unit, str(fp.declared_unit_amount), status)  # fmt: skip


@dataclass(frozen=True, slots=True)
class LineageFigure:
    """One record of the footprint's lineage as the page draws it: ``record_id`` None where
    the viewer may not see the record (drawn by its hash), ``value`` None where its payload
    is not public."""

    leaf_hash: str
    record_id: str | None
    kind: str | None
    value: str | None = None  # pcfExcludingBiogenicUptake
    amount: str | None = None  # per declaredUnitAmount …
    unit: str | None = None  # … declared units


@dataclass(frozen=True, slots=True)
class LineagePicture:
    root: str
    nodes: tuple[LineageFigure, ...]
    edges: tuple[tuple[str, str, str], ...]  # (source, target, type) by leaf hash

    def svg(self, *, per: str = "{value} kg CO2e / {amount} {unit}", not_public: str = "value not public",
            legend_title: str = "Edges:", type_names: dict[str, str] | None = None) -> str:  # fmt: skip
        """The picture with these labels (English by default; the page passes its language's)."""
        nodes = []
        for n in self.nodes:
            if n.record_id is None:
                nodes.append(RenderNode(n.leaf_hash, "", hidden=True))
                continue
            value = not_public if n.value is None else per.format(value=n.value, amount=n.amount, unit=n.unit)
            nodes.append(RenderNode(n.leaf_hash, n.record_id, f"{n.kind} · {value}"))
        edges = [RenderEdge(s, t, kind) for s, t, kind in self.edges]
        return render_svg(nodes, edges, self.root, legend_title=legend_title, type_names=type_names)


def _lineage(ledger: Ledger, footprint_id: str) -> LineagePicture | None:
    try:
        graph = ledger.lineage(footprint_id, ANONYMOUS, direction="ancestors", depth=8)
    except (NotFound, PayloadUnavailable):
        return None
    nodes = []
    for n in graph.nodes:
        if not n.visible:
            nodes.append(LineageFigure(n.leaf_hash, None, None))
            continue
        figure = LineageFigure(n.leaf_hash, str(n.record_id), n.kind)
        try:
            payload = ledger.record(n.record_id or "", ANONYMOUS).payload_json()
            if payload is not None and n.kind == "pcf":
                v = parse_pcf(payload).view
                figure = replace(figure, value=v.pcf_excluding_biogenic_uptake.text, amount=str(v.declared_unit_amount),
                                 unit=v.declared_unit)  # fmt: skip
        except (NotFound, ValueError):
            pass
        nodes.append(figure)
    return LineagePicture(graph.root, tuple(nodes), tuple((e.source, e.target, str(e.type)) for e in graph.edges))


def page(ledger: Ledger, view: RecordView, public_url: str) -> PassportPage:
    payload = view.payload_json()
    if payload is None:
        raise NotFound(f"passport {view.entry.record_id!r}: its payload was erased")
    passport = parse_passport(payload)
    st = view.state
    status = REVOKED if st is not None and st.status == REVOKED else "active"
    footprint = _footprint(ledger, view)
    path = passport.link.path()
    return PassportPage(
        record=view, passport=passport, status=status, status_reason=(st.reason if st and status == REVOKED else ""),
        issuer=ledger.participant(view.entry.author), footprint=footprint,
        lineage=_lineage(ledger, footprint.record_id) if footprint else None,
        receipt=ledger.receipt(view.entry.record_id, ANONYMOUS),
        canonical_uri=public_url.rstrip("/") + path,
        versions=tuple(v.entry.record_id for v in _versions(ledger, path)),
        anchor_sent_at=_sent_at(ledger, view.entry.leaf_index),
    )  # fmt: skip


def _sent_at(ledger: Ledger, leaf_index: int) -> datetime | None:
    covering = ledger.store.anchor_covering(ledger.log.id, leaf_index)
    if covering is None or covering.sent_at is None:
        return None
    sent = covering.sent_at
    return sent if sent.tzinfo is not None else sent.replace(tzinfo=UTC)  # SQLite: naive UTC


def linkset(p: PassportPage, public_url: str) -> dict[str, Any]:
    """The RFC 9264 linkset (``application/linkset+json``) of a passport's Digital Link."""
    base = public_url.rstrip("/")
    anchor = p.canonical_uri
    rid = p.record.entry.record_id
    page_links = [{"href": f"{anchor}?linkType={PIP}&lang={lang}", "type": "text/html", "hreflang": [lang],
                   "title": title} for lang, title in (("en", "Digital product passport"), ("zh-CN", "数字产品护照"))]  # fmt: skip
    credential = [
        {"href": f"{anchor}?linkType={DPP}", "type": "application/vc+jwt", "title": "Passport credential (VC-JOSE)"},
        {"href": f"{base}/v1/passports/{rid}/credential", "type": "application/vc+ld+json", "title": "Passport credential (JSON)"},
    ]  # fmt: skip
    return {"linkset": [{
        "anchor": anchor,
        LINK_TYPE_IRIS[PIP]: page_links,
        LINK_TYPE_IRIS[DPP]: credential,
        LINK_TYPE_IRIS[SUSTAINABILITY]: credential[:1],
        LINK_TYPE_IRIS[CERTIFICATION]: credential[:1],
        "https://gs1.org/voc/defaultLink": page_links[:1],
        "describedby": [{"href": f"{base}/v1/records/{rid}/receipt", "type": "application/json",
                         "title": "Receipt: inclusion proof, checkpoint and anchor (tdsl verify)"}],
        "status": [{"href": f"{base}{STATUS_PATH.format(address=p.record.entry.author)}",
                    "type": "application/vc+ld+json", "title": f"Status: {p.status}"}],
    }]}  # fmt: skip


def status_list_credential(ledger: Ledger, address: str, public_url: str, *, now: datetime | None = None) -> dict[str, Any]:
    """The issuer's revocation status list credential (module docstring)."""
    who = ledger.participant(address)
    if who is None:
        raise NotFound(f"no participant {address}")
    revoked, start = [], 0
    while start is not None:
        views, start = ledger.list_records(ANONYMOUS, start=start, limit=1000,
                                           query=RecordQuery(kind="passport", author=who.address, status=REVOKED))  # fmt: skip
        revoked += [int(i) for v in views if v.state is not None and (i := v.state.fact("status_index")) is not None]
    url = public_url.rstrip("/") + STATUS_PATH.format(address=who.address)
    issued = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return bitstring.status_list_credential(url, vcjose.did_web(host_of(public_url), who.address), revoked,
                                              valid_from=issued)  # fmt: skip


def did_document(ledger: Ledger, address: str, public_url: str) -> dict[str, Any]:
    """The issuer's did:web document (module docstring)."""
    who = ledger.participant(address)
    if who is None:
        raise NotFound(f"no participant {address}")
    entries = ledger.store.list_entries(ledger.log.id, author=who.address, limit=1, visible_to=...)
    if not entries:
        raise NotFound(f"participant {who.address} has signed no record yet, so the ledger knows no key of theirs")
    key = author_public_key(Envelope.from_json(entries[0].envelope), ledger.domain)  # any of theirs: one key
    return vcjose.did_document(vcjose.did_web(host_of(public_url), who.address), key)
