"""``passport`` and ``passport_revocation``: a UNTP Digital Product Passport, W3C VC 2.0,
secured as VC-JOSE by its issuer's own key (DESIGN §8, §12).

**Payload** ``{"credential": {…the VC…}, "vc_jwt": "<compact JWS>"}``. The credential is
checked by our strict models (``ledger.untp``) and its ``@context`` by offline JSON-LD
expansion (``ledger.vc_context``); the JWS (``ledger.vcjose``: ``alg`` ES256K, ``typ``
``vc+jwt``, ``kid`` the author's DID key) must verify with the author's secp256k1 key —
the key whose address signed the envelope, recovered from the JWS signature itself, then
verified by joserfc — and its payload must be the credential (equal as parsed JSON). The
credential's ``issuer`` is the author's ``did:web:<host>:participants:<address>``; the host
is not checked here (admission does not depend on the server's configuration, so the
audit can recompute it), the resolver serves the DID document at its own host.

**The product.** ``credentialSubject.product.id`` is a GS1 Digital Link URI (``ledger.gs1``:
check digit, grammar); its level matches ``granularityLevel`` (``item``: a serial,
``batch``: a lot, ``model``: neither) and ``serialNumber``/``batchNumber`` agree with it.
Parent 0 is the product's ``pcf``, by the same author (a passport for someone else's
product is refused), ``Active``, listing the passport's GTIN among its ``productIds``
(``urn:gtin:<GTIN>``, any GTIN length). The emissions scorecard must equal the
footprint: ``carbonFootprint`` = ``pcfExcludingBiogenicUptake`` ÷ ``declaredUnitAmount``
(kg CO2e per declared unit), exact after rounding half-even to the scorecard's decimal
places, and ``declaredUnit`` the UNECE Rec 20 code of the footprint's unit (``UNITS``).

**One passport per Digital Link path** (item, batch or model) unless it supersedes the
last: a passport with no passport parent files the unique term ``passport_root`` = its
path, so a second one is refused (``Conflict`` naming the first); one whose parent 1 is
the path's current passport (same author, same path, not already superseded) supersedes
it, and the compare-and-swap on that passport's state keeps the chain linear.

**Status.** ``credentialStatus`` is a ``BitstringStatusListEntry`` for ``revocation`` in
the issuer's list, ``…/participants/<address>/status/revocation`` on any host; its index
is the unique term ``status_index`` = ``<address>:<index>``. A ``passport_revocation``
(``{"passport": id, "reason": text}``, parent the passport, by its issuer or the log operator) derives the
passport ``revoked``; the list's bits are the indexes of the issuer's revoked passports.

Effects: terms ``item`` (the path; every version), ``product`` (``urn:gtin:<GTIN-14>``),
``passport_root`` and ``status_index``; edges ``describes`` (the footprint) and
``supersedes``; state ``active`` (facts ``item``, ``status_index``), ``superseded``
(fact ``superseded_by``) or ``revoked`` (facts kept, ``revoked_by``).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from fractions import Fraction
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ledger import formats, gs1, status_list, untp, vc_context, vcjose
from ledger.effects import DerivedState, Edge, EdgeType, StateChange, Term
from ledger.errors import InvalidRecord, InvalidSignature, MalformedInput
from ledger.kinds.base import AdmissionContext, Admitted, Kind, ParentRecord, payload_as
from ledger.kinds.pcf import PcfPayload

ACTIVE, SUPERSEDED, REVOKED = "active", "superseded", "revoked"
#: UNECE Recommendation 20 codes of the PACT declared units (UNTP ``declaredUnit``).
UNITS = {
    "liter": "LTR", "kilogram": "KGM", "cubic meter": "MTQ", "kilowatt hour": "KWH", "megajoule": "3B",
    "ton kilometer": "TKM", "square meter": "MTK", "piece": "H87", "hour": "HUR",
}  # fmt: skip
STATUS_PATH = "/participants/{address}/status/revocation"
MAX_JWT = 256 * 1024


class PassportBody(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    credential: dict[str, Any]
    vc_jwt: str = Field(min_length=1, max_length=MAX_JWT)


class RevocationBody(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    passport: str = Field(pattern=formats.anchored(formats.RECORD_ID))
    reason: str = Field(default="", max_length=1000)


@dataclass(frozen=True, slots=True)
class Passport:
    """A parsed passport: the credential's view, its Digital Link, and the JWS."""

    dpp: untp.DppView
    link: gs1.DigitalLink
    vc_jwt: str


def _fail(message: str) -> InvalidRecord:
    return InvalidRecord(f"passport: {message}")


def _strict(model: type[BaseModel], payload: Any, kind: str) -> Any:
    try:
        return model.model_validate(payload, strict=True)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "payload"
        raise InvalidRecord(f"{kind}: {where}: {first['msg']}") from None


def parse_passport(payload: Any) -> Passport:
    """The payload's form: the credential's models and context, its Digital Link (no keys)."""
    body = _strict(PassportBody, payload, "passport")
    dpp = untp.parse_dpp(body.credential)
    vc_context.check_context(body.credential)
    try:
        link = gs1.parse_uri(dpp.product_id)
    except MalformedInput as e:
        raise _fail(f"credentialSubject.product.id {dpp.product_id[:200]!r} is not a GS1 Digital Link: {e}") from None
    if link.level != dpp.granularity:
        raise _fail(f"granularityLevel is {dpp.granularity!r} but the product id is a {link.level}-level link "
                    f"{link.path()!r}")  # fmt: skip
    if dpp.serial is not None and link.serial is not None and dpp.serial != link.serial:
        raise _fail(f"product.serialNumber {dpp.serial!r} is not the link's serial {link.serial!r}")
    if dpp.batch is not None and link.lot is not None and dpp.batch != link.lot:
        raise _fail(f"product.batchNumber {dpp.batch!r} is not the link's lot {link.lot!r}")
    return Passport(dpp, link, body.vc_jwt)


def _issuer_key(p: Passport, author: str) -> str:
    """The author's DID key id, after checking the credential's issuer is the author."""
    if vcjose.address_of_did(p.dpp.issuer_id) != author:
        raise _fail(f"issuer {p.dpp.issuer_id[:200]!r} is not the author's did:web "
                    f"(did:web:<host>:participants:{author})")  # fmt: skip
    return vcjose.key_id(p.dpp.issuer_id)


def _verify_jws(p: Passport, author: str) -> None:
    kid = _issuer_key(p, author)
    try:
        vcjose.check_header(vcjose.parse_compact(p.vc_jwt).header, kid=kid)  # alg none, typ, kid: named first
        keys = [k for k in vcjose.candidate_public_keys(p.vc_jwt) if vcjose.address_of_public_key(k) == author]
        if not keys:
            raise InvalidSignature(f"not signed by the author {author}")
        verified = vcjose.verify_vc_jwt(p.vc_jwt, keys[0], kid=kid)
    except (MalformedInput, InvalidRecord, InvalidSignature) as e:
        raise type(e)(f"passport: vc_jwt: {e}") from None
    if not vcjose.credential_matches(verified, p.dpp.credential):
        raise _fail("vc_jwt: its payload is not the credential (they differ as JSON)")


def _per_unit(fp: PcfPayload) -> Fraction:
    v = fp.view
    return Fraction(v.pcf_excluding_biogenic_uptake.value) / Fraction(v.declared_unit_amount)


def _check_scorecard(p: Passport, fp: PcfPayload, where: str) -> None:
    d, v = p.dpp, fp.view
    if d.carbon_footprint is None or d.declared_unit is None:
        raise _fail("credentialSubject.emissionsScorecard needs carbonFootprint and declaredUnit (from the footprint)")
    unit = UNITS.get(v.declared_unit)
    if d.declared_unit != unit:
        raise _fail(f"emissionsScorecard.declaredUnit is {d.declared_unit!r}; the footprint {where} is per "
                    f"{v.declared_unit!r} ({unit or 'no UNECE code'})")  # fmt: skip
    exact = _per_unit(fp)
    places = max(0, -d.carbon_footprint.as_tuple().exponent)
    with localcontext() as c:
        c.prec = 80
        computed = (Decimal(exact.numerator) / Decimal(exact.denominator)).quantize(
            Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN
        )
    if computed != d.carbon_footprint:
        raise _fail(f"emissionsScorecard.carbonFootprint is {d.carbon_footprint}; the footprint {where} gives "
                    f"{computed} kg CO2e per {v.declared_unit} (pcfExcludingBiogenicUptake "
                    f"{v.pcf_excluding_biogenic_uptake.text} / declaredUnitAmount {v.declared_unit_amount})")  # fmt: skip


def _gtins(fp: PcfPayload) -> set[str]:
    out = set()
    for pid in fp.view.product_ids:
        if pid.lower().startswith("urn:gtin:"):
            try:
                out.add(gs1.normalise_gtin(pid[len("urn:gtin:"):]))
            except MalformedInput:
                pass
    return out


def _footprint(p: Passport, ctx: AdmissionContext) -> ParentRecord:
    if not ctx.parents or ctx.parents[0].kind != "pcf":
        raise _fail("parent 0 must be the product's footprint (a pcf record)")
    parent = ctx.parents[0]
    if parent.author != ctx.author:
        raise _fail(f"the footprint {parent.record_id!r} is {parent.author}'s product, not the author's ({ctx.author})")
    fp = payload_as(parent, PcfPayload, "the footprint")
    if parent.state is None or parent.state.status != "Active":
        raise _fail(f"the footprint {parent.record_id!r} is {parent.state.status if parent.state else 'unknown'}, "
                    "not Active")  # fmt: skip
    if p.link.gtin not in _gtins(fp):
        raise _fail(f"the footprint {parent.record_id!r} is for products {list(fp.view.product_ids)}, "
                    f"not GTIN {p.link.gtin}")  # fmt: skip
    _check_scorecard(p, fp, repr(parent.record_id))
    return parent


def _status_index(p: Passport, author: str) -> int:
    if p.dpp.status is None:
        raise _fail("credentialStatus must be a BitstringStatusListEntry of the issuer's revocation list")
    url, index, purpose = p.dpp.status
    want = STATUS_PATH.format(address=author)
    if purpose != "revocation" or not url.split("?", 1)[0].split("#", 1)[0].endswith(want):
        raise _fail(f"credentialStatus must be a revocation entry in the issuer's list (…{want}), got "
                    f"{purpose!r} in {url[:200]!r}")  # fmt: skip
    if not 0 <= index < status_list.MIN_LENGTH:
        raise _fail(f"credentialStatus.statusListIndex {index} is outside 0..{status_list.MIN_LENGTH - 1}")
    return index


def _previous(p: Passport, ctx: AdmissionContext) -> ParentRecord | None:
    if len(ctx.parents) == 1:
        return None
    if len(ctx.parents) > 2 or ctx.parents[1].kind != "passport":
        raise _fail("parents are the footprint and, for a new version, the passport it supersedes")
    prev = ctx.parents[1]
    if prev.author != ctx.author:
        raise _fail(f"passport {prev.record_id!r} was issued by {prev.author}; only its issuer may supersede it")
    old = payload_as(prev, Passport, "the superseded passport")
    if old.link.path() != p.link.path():
        raise _fail(f"passport {prev.record_id!r} is for {old.link.path()!r}, not {p.link.path()!r}")
    if prev.state is not None and (prev.state.status == SUPERSEDED or prev.state.fact("superseded_by")):
        # a revoked passport that was superseded keeps its status, and its superseded_by fact
        raise _fail(f"passport {prev.record_id!r} is already superseded by {prev.state.fact('superseded_by')!r}; "
                    "supersede the current one")  # fmt: skip
    return prev


def _check(p: Passport, ctx: AdmissionContext) -> Admitted:
    _verify_jws(p, ctx.author)
    fp = _footprint(p, ctx)
    index = _status_index(p, ctx.author)
    prev = _previous(p, ctx)
    path = p.link.path()
    slot = f"{ctx.author}:{index}"
    terms = [Term("item", path), Term("product", f"urn:gtin:{p.link.gtin}"), Term("status_index", slot)]
    edges = [Edge(EdgeType.DESCRIBES, fp.record_id)]
    changes = []
    if prev is None:
        terms.append(Term("passport_root", path))
    else:
        edges.append(Edge(EdgeType.SUPERSEDES, prev.record_id))
        old = prev.state or DerivedState(ACTIVE)
        facts = tuple((dict(old.facts) | {"superseded_by": ctx.record_id}).items())
        if old.status == REVOKED:  # stays revoked, with its revocation's reason: only the fact is added
            changes.append(StateChange(prev.record_id, DerivedState(REVOKED, old.reason, old.by, facts)))
        else:
            changes.append(StateChange(prev.record_id,
                                       DerivedState(SUPERSEDED, f"superseded by {ctx.record_id}", ctx.record_id, facts)))  # fmt: skip
    state = DerivedState(ACTIVE, "", None, (("item", path[:500]), ("status_index", str(index))))
    return Admitted(terms=tuple(terms), edges=tuple(edges), state=state, changes=tuple(changes))


def _check_revocation(r: RevocationBody, ctx: AdmissionContext) -> Admitted:
    if len(ctx.parents) != 1 or ctx.parents[0].kind != "passport":
        raise InvalidRecord("passport_revocation: its one parent must be the passport it revokes")
    parent = ctx.parents[0]
    if r.passport != parent.record_id:
        raise InvalidRecord(f"passport_revocation: passport {r.passport!r} is not the parent {parent.record_id!r}")
    if ctx.author not in (parent.author, ctx.operator):
        raise InvalidRecord(f"passport_revocation: only the issuer {parent.author} may revoke {parent.record_id!r}")
    old = parent.state or DerivedState(ACTIVE)
    if old.status == REVOKED:
        raise InvalidRecord(f"passport_revocation: {parent.record_id!r} is already revoked (by {old.by})")
    facts = dict(old.facts) | {"revoked_by": ctx.record_id}
    revoked = DerivedState(REVOKED, (r.reason or "revoked by its issuer")[:1000], ctx.record_id, tuple(facts.items()))
    return Admitted(changes=(StateChange(parent.record_id, revoked),))


PASSPORT = Kind(
    name="passport",
    roles=frozenset({"exporter", "producer"}),
    schema=PassportBody,
    default_visibility="public",
    check=_check,
    parser=parse_passport,
    public_payload=True,
)

PASSPORT_REVOCATION = Kind(
    name="passport_revocation",
    roles=frozenset({"exporter", "producer"}),
    schema=RevocationBody,
    default_visibility="public",
    check=_check_revocation,
    public_payload=True,
)
