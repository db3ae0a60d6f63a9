"""The contract kinds (DESIGN §8): ``contract_offer``, ``contract_request``,
``contract_agreement`` and ``contract_revocation``. Access events are
``ledger.kinds.access_event``.

Payloads are ODRL policies as EDC and the Dataspace Protocol (DSP 2025-1) write them,
read through ``ledger.odrl.jsonld.normalise`` (contexts shipped with the code, never
fetched), so compact and expanded IRIs are the same terms.

**Parties.** An ODRL ``assigner``/``assignee`` names a participant of this log by its
address, or by a DID whose last ``:``-separated part is the address
(``did:web:<host>:participants:<address>``, DESIGN §12), compared case-insensitively.
Connector identifiers (an EDC participant id, a BPN) are mapped to addresses when a DSP
message is imported (``tdsl import dsp --party ID=ADDRESS``), not here.

**The negotiation** (who, parents, rules):

- ``contract_offer``, by a provider: an ODRL ``Offer``; its ``@id`` is the record id; its
  ``target`` is the record id of a ``dataset`` of the same author, which is the offer's
  one parent; ``assigner``, when given, names the author; at least one rule. The offer is
  public (a catalogue entry) and so is its payload.
- ``contract_request``, by a consumer: the EDC management API's ``ContractRequest`` (the
  policy under ``policy``) or the DSP ``ContractRequestMessage`` (under ``offer``); an
  outer ``@context`` carries over to a policy without its own. One parent, the offer; the
  policy's ``@id`` is the offer's and its rules equal the offer's after normalisation (the
  consumer accepts exact terms; the first difference is named). Disclosed to the offer's
  author. State ``requested``, then ``agreed`` when an agreement concludes it.
- ``contract_agreement``, by the offer's author: the DSP ``Agreement`` (``@id`` = record
  id, ``target``, ``timestamp``, ``assigner``, ``assignee``, rules). Parents: the offer,
  then the request for it. ``assignee`` names the request's author, ``assigner`` the
  agreement's author, ``target`` is the offer's, and the rules equal the request's. A
  request is agreed at most once. Disclosed to the assignee, so an agreement in force
  carries both parties' signatures and both can read it. State ``in_force`` with the fact
  ``events`` (access events under it so far, which each event's ``count`` is taken from)
  and one ``duty:<path>`` fact per duty and obligation (``ledger.odrl.duties``), then
  ``revoked`` (facts kept).
- ``contract_revocation``, by either party or the operator: ``{"agreement": id,
  "reason": text}``; one parent, the agreement, which must be in force. It sets the
  agreement ``revoked`` from its log position on. Disclosed to both parties.

A policy that uses a left operand, operator or action refinement the evaluator does not
implement is well-formed ODRL and is admitted; the offer's and the agreement's state say
that events under it will be ``undetermined`` (``reason``, and the fact ``unsupported``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ledger import formats
from ledger.eip712 import to_checksum_address
from ledger.effects import DerivedState, Edge, EdgeType, StateChange, Term
from ledger.errors import InvalidRecord
from ledger.kinds.base import AdmissionContext, Admitted, Kind, ParentRecord, payload_as
from ledger.odrl import duties
from ledger.odrl.evaluate import unsupported
from ledger.odrl.jsonld import first_difference, normalise
from ledger.odrl.policy import Policy, parse_policy

OFFERED, REQUESTED, AGREED, IN_FORCE, REVOKED = "offered", "requested", "agreed", "in_force", "revoked"
_ADDRESS = formats.ADDRESS


@dataclass(frozen=True, slots=True)
class ContractPolicy:
    """A policy payload read: the normalised form (what rules are compared on), the typed
    policy (what the evaluator reads), and the terms the evaluator does not implement."""

    normalised: dict[str, Any]
    policy: Policy
    unsupported: tuple[str, ...]


def read_policy(doc: Any, what: str, *, context: Any = None) -> ContractPolicy:
    """A JSON-LD policy document as a ``ContractPolicy``; ``context``: an outer ``@context``
    for a policy nested without its own."""
    if not isinstance(doc, dict):
        raise InvalidRecord(f"{what} must be a JSON object (an ODRL policy)")
    if context is not None and "@context" not in doc:
        doc = {"@context": context, **doc}
    norm = normalise(doc)
    policy = parse_policy(norm)
    return ContractPolicy(norm, policy, unsupported(policy))


def party_address(value: str | None) -> str | None:
    """The address an ODRL party value names (see the module docstring), EIP-55 checksummed."""
    if not value:
        return None
    last = value.rsplit(":", 1)[-1]
    return to_checksum_address(last) if _ADDRESS.fullmatch(last) else None


def _names(value: str | None, address: str) -> bool:
    return party_address(value) == address


def _undetermined_note(p: ContractPolicy) -> tuple[str, dict[str, str]]:
    if not p.unsupported:
        return "", {}
    listed = "; ".join(p.unsupported[:10]) + ("; …" if len(p.unsupported) > 10 else "")
    note = f"access events under this policy will be undetermined: the evaluator does not implement {listed}"
    return note[:1000], {"unsupported": listed[:500]}


def _has_rules(p: ContractPolicy) -> bool:
    return bool(p.policy.permissions or p.policy.prohibitions or p.policy.obligations)


def _fail(kind: str, message: str) -> InvalidRecord:
    return InvalidRecord(f"{kind}: {message}")


def one_parent(ctx: AdmissionContext, kind: str, want: str, what: str) -> ParentRecord:
    if len(ctx.parents) != 1 or ctx.parents[0].kind != want:
        got = ", ".join(p.kind for p in ctx.parents) or "none"
        raise _fail(kind, f"needs exactly one parent, {what} (a {want}); got {got}")
    return ctx.parents[0]


# -- contract_offer ------------------------------------------------------------------------


def _parse_offer(payload: Any) -> ContractPolicy:
    return read_policy(payload, "contract_offer payload")


def _check_offer(p: ContractPolicy, ctx: AdmissionContext) -> Admitted:
    kind, pol = "contract_offer", p.policy
    if pol.type != "Offer":
        raise _fail(kind, f"@type must be Offer, got {pol.type!r}")
    if pol.uid != ctx.record_id:
        raise _fail(kind, f"the record id must be the offer's @id {pol.uid!r}, got {ctx.record_id!r}")
    if not _has_rules(p):
        raise _fail(kind, "an offer needs at least one permission, prohibition or obligation")
    dataset = one_parent(ctx, kind, "dataset", "the dataset it offers")
    if dataset.author != ctx.author:
        raise _fail(kind, f"the dataset {dataset.record_id!r} is another provider's (author {dataset.author})")
    if pol.target != dataset.record_id:
        raise _fail(kind, f"target must be the parent dataset's id {dataset.record_id!r}, got {pol.target!r}")
    if pol.assigner is not None and not _names(pol.assigner, ctx.author):
        raise _fail(kind, f"assigner {pol.assigner!r} does not name the author {ctx.author}")
    note, facts = _undetermined_note(p)
    return Admitted(
        terms=(Term("dataset", dataset.record_id), Term("provider", ctx.author)),
        state=DerivedState(OFFERED, note, facts=tuple(facts.items())),
    )


CONTRACT_OFFER = Kind(
    name="contract_offer",
    roles=frozenset({"provider"}),
    schema=BaseModel,  # ``parser`` reads the JSON-LD policy
    default_visibility="public",
    check=_check_offer,
    public_payload=True,
    parser=_parse_offer,
)


# -- contract_request ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ContractRequest:
    policy: ContractPolicy
    message_type: str  # "ContractRequest" (EDC management API) or "ContractRequestMessage" (DSP)


def _parse_request(payload: Any) -> ContractRequest:
    if not isinstance(payload, dict):
        raise InvalidRecord("contract_request payload must be a JSON object")
    if "policy" in payload and "offer" not in payload:
        key, message_type = "policy", "ContractRequest"
    elif "offer" in payload and "policy" not in payload:
        key, message_type = "offer", "ContractRequestMessage"
    else:
        raise InvalidRecord("contract_request payload: the accepted policy goes under 'policy' (EDC ContractRequest) "
                            "or 'offer' (DSP ContractRequestMessage), exactly one of them")  # fmt: skip
    declared = payload.get("@type")
    if declared is not None and declared not in (message_type, f"dspace:{message_type}", f"edc:{message_type}"):
        raise InvalidRecord(f"contract_request payload: @type {declared!r} does not fit a policy under {key!r}")
    return ContractRequest(read_policy(payload[key], f"contract_request payload: {key}", context=payload.get("@context")),
                           message_type)  # fmt: skip


def _check_request(r: ContractRequest, ctx: AdmissionContext) -> Admitted:
    kind = "contract_request"
    parent = one_parent(ctx, kind, "contract_offer", "the offer it accepts")
    offer = payload_as(parent, ContractPolicy, "the offer")
    if parent.author == ctx.author:
        raise _fail(kind, "a provider cannot request its own offer")
    if r.policy.policy.uid != offer.policy.uid:
        raise _fail(kind, f"the policy's @id must be the offer's {offer.policy.uid!r}, got {r.policy.policy.uid!r}")
    if r.policy.policy.target not in (None, offer.policy.target):
        raise _fail(kind, f"target {r.policy.policy.target!r} is not the offer's {offer.policy.target!r}")
    diff = first_difference(offer.normalised, r.policy.normalised)
    if diff is not None:
        raise _fail(kind, f"the rules differ from the offer's (offer vs request): {diff}")
    return Admitted(
        terms=(Term("dataset", offer.policy.target or ""), Term("provider", parent.author), Term("consumer", ctx.author)),
        state=DerivedState(REQUESTED),
        discloses=(parent.author,),
    )


CONTRACT_REQUEST = Kind(
    name="contract_request",
    roles=frozenset({"consumer"}),
    schema=BaseModel,
    default_visibility="private",
    check=_check_request,
    parser=_parse_request,
)


# -- contract_agreement --------------------------------------------------------------------


def _parse_agreement(payload: Any) -> ContractPolicy:
    return read_policy(payload, "contract_agreement payload")


def _check_agreement(p: ContractPolicy, ctx: AdmissionContext) -> Admitted:
    kind, pol = "contract_agreement", p.policy
    if pol.type != "Agreement":
        raise _fail(kind, f"@type must be Agreement, got {pol.type!r}")
    if pol.uid != ctx.record_id:
        raise _fail(kind, f"the record id must be the agreement's @id {pol.uid!r}, got {ctx.record_id!r}")
    for name in ("target", "assigner", "assignee", "timestamp"):
        if getattr(pol, name) is None:
            raise _fail(kind, f"an agreement needs {name}")
    agreement_time(pol)
    kinds = [q.kind for q in ctx.parents]
    if kinds != ["contract_offer", "contract_request"]:
        raise _fail(kind, f"parents must be the offer, then the consumer's request for it; got {kinds or 'none'}")
    offer_rec, request_rec = ctx.parents
    if offer_rec.author != ctx.author:
        raise _fail(kind, f"only the offer's author {offer_rec.author} may conclude an agreement on it")
    offer = payload_as(offer_rec, ContractPolicy, "the offer (parent 0)")
    request = payload_as(request_rec, ContractRequest, "the request (parent 1)")
    if request.policy.policy.uid != offer.policy.uid:
        raise _fail(kind, f"the request (parent 1) accepts offer {request.policy.policy.uid!r}, not parent 0 "
                          f"{offer.policy.uid!r}")  # fmt: skip
    if request_rec.state is not None and request_rec.state.status != REQUESTED:
        raise _fail(kind, f"the request {request_rec.record_id!r} is {request_rec.state.status} "
                          f"({request_rec.state.reason or 'by ' + str(request_rec.state.by)})")  # fmt: skip
    if not _names(pol.assignee, request_rec.author):
        raise _fail(kind, f"assignee {pol.assignee!r} does not name the request's author {request_rec.author}")
    if not _names(pol.assigner, ctx.author):
        raise _fail(kind, f"assigner {pol.assigner!r} does not name the author {ctx.author}")
    if pol.target != offer.policy.target:
        raise _fail(kind, f"target {pol.target!r} is not the offer's {offer.policy.target!r}")
    diff = first_difference(request.policy.normalised, p.normalised)
    if diff is not None:
        raise _fail(kind, f"the rules differ from the request's (request vs agreement): {diff}")
    note, facts = _undetermined_note(p)
    try:
        facts |= duties.as_facts(duties.initial(pol, agreement_time(pol)))
    except InvalidRecord as e:
        raise _fail(kind, str(e)) from None
    return Admitted(
        terms=(Term("agreement", ctx.record_id), Term("dataset", pol.target or ""), Term("provider", ctx.author),
               Term("consumer", request_rec.author)),  # fmt: skip
        state=DerivedState(IN_FORCE, note, facts=(("events", "0"), *facts.items())),
        changes=(StateChange(request_rec.record_id, DerivedState(AGREED, f"agreement {ctx.record_id}", ctx.record_id)),),
        discloses=(request_rec.author,),
    )


def agreement_time(pol: Policy) -> datetime:
    """An agreement's ``timestamp`` (RFC 3339 / xsd:dateTime with a zone) as an aware datetime."""
    text = pol.timestamp or ""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        value = None
    if value is None or value.utcoffset() is None:
        raise _fail("contract_agreement", f"timestamp {text[:60]!r} is not a date-time with a time zone")
    return value


def consumer_of(agreement: ContractPolicy) -> str | None:
    """The address of an agreement's assignee (checksummed)."""
    return party_address(agreement.policy.assignee)


CONTRACT_AGREEMENT = Kind(
    name="contract_agreement",
    roles=frozenset({"provider"}),
    schema=BaseModel,
    default_visibility="private",
    check=_check_agreement,
    parser=_parse_agreement,
)


# -- contract_revocation -------------------------------------------------------------------


class RevocationPayload(BaseModel):
    model_config = ConfigDict(extra="forbid")
    agreement: str = Field(pattern=formats.anchored(formats.RECORD_ID))
    reason: str = Field(default="", max_length=500)


def in_force(parent: ParentRecord, kind: str) -> DerivedState:
    """The agreement's derived state, which must be ``in_force``."""
    state = parent.state
    if state is None:
        raise _fail(kind, f"agreement {parent.record_id!r} has no derived state")
    if state.status != IN_FORCE:
        raise _fail(kind, f"agreement {parent.record_id!r} is {state.status} ({state.reason})")
    return state


def _check_revocation(p: RevocationPayload, ctx: AdmissionContext) -> Admitted:
    kind = "contract_revocation"
    parent = one_parent(ctx, kind, "contract_agreement", "the agreement it revokes")
    if p.agreement != parent.record_id:
        raise _fail(kind, f"agreement {p.agreement!r} is not the parent agreement {parent.record_id!r}")
    if parent.model is None and ctx.author not in (parent.author, ctx.operator):
        raise _fail(kind, f"only the agreement's parties or the operator may revoke it; author is {ctx.author}")
    agreement = payload_as(parent, ContractPolicy, "the agreement")
    consumer = consumer_of(agreement)
    if ctx.author not in (parent.author, ctx.operator, consumer):
        raise _fail(kind, f"only the agreement's parties ({parent.author}, {agreement.policy.assignee}) or the "
                          f"operator may revoke it; author is {ctx.author}")  # fmt: skip
    state = in_force(parent, kind)
    why = f"revoked by {ctx.author} ({ctx.record_id})" + (f": {p.reason}" if p.reason else "")
    others = tuple(a for a in (parent.author, consumer) if a is not None and a != ctx.author)
    return Admitted(
        terms=(Term("agreement", parent.record_id),),
        edges=(Edge(EdgeType.UNDER_AGREEMENT, parent.record_id),),
        changes=(StateChange(parent.record_id, DerivedState(REVOKED, why[:1000], ctx.record_id, state.facts)),),
        discloses=others,
    )


CONTRACT_REVOCATION = Kind(
    name="contract_revocation",
    roles=frozenset({"provider", "consumer"}),
    schema=RevocationPayload,
    default_visibility="private",
    check=_check_revocation,
)
