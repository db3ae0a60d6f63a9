"""``tdsl import dsp FILE``: a Dataspace Protocol message (or its EDC management API
counterpart) turned into the record it evidences, signed with ``--key-file`` — no
hand-editing of ids, parties or parents.

The mapping, by the message's ``@type`` (compact, ``dspace:``/``edc:``-prefixed or a full IRI):

- ``ContractAgreementMessage`` (DSP 2025-1, by the provider) → ``contract_agreement``.
  Payload: the message's ``agreement`` object, with the message's ``@context`` when the
  agreement has none of its own; record id: the agreement's ``@id``. ``assigner`` and
  ``assignee`` name connectors (an EDC participant id, an IRI such as
  ``http://example.com/Provider``): each is replaced by the participant address that
  ``--party CONNECTOR_ID=ADDRESS`` maps it to; a party already written as an address or
  a DID naming one (``did:web:…:0x…``) is kept; any other is an error naming the party
  and the flag. The message's ``providerPid``/``consumerPid`` (negotiation ids) are not
  kept. Parents: the offer the request accepts, then the request — ``--request ID``, or,
  without it, the one open request (state ``requested``) by the assignee on the
  agreement's target whose offer is the author's; none or several is an error asking for
  ``--request``.
- ``TransferRequestMessage``, ``TransferStartMessage``, ``TransferCompletionMessage``
  (DSP) and ``TransferRequestDto`` (EDC management API, ``contractId``) →
  ``access_event`` under the agreement the message names (``agreementId`` /
  ``contractId``; DSP start and completion messages carry none, so ``--agreement ID``
  gives it; both given must agree). ``action`` ``use`` unless ``--action``; ``at`` now
  unless ``--at``; ``transfer_process_id`` the message's ``consumerPid``, else
  ``providerPid``, else ``@id`` (none: left out); ``dataset`` the agreement's target;
  ``actor`` the agreement's assignee, who receives the data whichever party reports the
  transfer, unless ``--actor``; ``--purpose``/``--spatial`` as for ``tdsl access``.
  Parent: the agreement; the verdict is printed.

Any other ``@type`` is an error listing these.
"""

from __future__ import annotations

import argparse
import copy
from typing import Any

from ledger import formats
from ledger.cli_contracts import Session, now, offer_of, read_json_file, report, submit_access
from ledger.cli_verify import UsageError
from ledger.errors import InvalidRecord
from ledger.kinds.contract import party_address

AGREEMENT_TYPES = ("ContractAgreementMessage",)
TRANSFER_TYPES = ("TransferRequestMessage", "TransferStartMessage", "TransferCompletionMessage", "TransferRequestDto")
SUPPORTED = AGREEMENT_TYPES + TRANSFER_TYPES
#: The flags of one sort of message, by the attribute they set.
AGREEMENT_FLAGS = {"--party": "party", "--request": "request"}
TRANSFER_FLAGS = {"--agreement": "agreement", "--action": "action", "--at": "at", "--actor": "actor",
                  "--purpose": "purpose", "--spatial": "spatial"}  # fmt: skip


def message_type(msg: dict[str, Any], path: Any) -> str:
    """The message's ``@type`` without a prefix or namespace, which must be one we import."""
    declared = msg.get("@type")
    if isinstance(declared, list) and len(declared) == 1:
        declared = declared[0]
    name = declared.rsplit("/", 1)[-1].rsplit("#", 1)[-1].rsplit(":", 1)[-1] if isinstance(declared, str) else None
    if name not in SUPPORTED:
        raise InvalidRecord(f"{path}: @type {declared!r} is not a message tdsl import dsp reads; it reads "
                            f"{', '.join(SUPPORTED)}")  # fmt: skip
    return name


def field(msg: dict[str, Any], name: str) -> Any:
    """A message field, written plain (DSP 2025-1) or ``dspace:``/``edc:``-prefixed (older releases)."""
    for key in (name, f"dspace:{name}", f"edc:{name}"):
        if key in msg:
            return msg[key]
    return None


def parse_parties(flags: list[str]) -> dict[str, str]:
    """``--party CONNECTOR_ID=ADDRESS`` flags as {connector id: checksummed address}."""
    parties: dict[str, str] = {}
    for flag in flags:
        party, sep, value = flag.rpartition("=")
        address = party_address(value.strip())
        if not sep or not party or address is None:
            raise UsageError(f"--party must be CONNECTOR_ID=ADDRESS (an 0x address or a DID naming one), got {flag!r}")
        parties[party] = address
    return parties


def map_party(agreement: dict[str, Any], role: str, parties: dict[str, str]) -> str:
    value = agreement.get(role)
    if isinstance(value, dict):  # {"@id": "..."}
        value = value.get("@id")
    if not isinstance(value, str) or not value:
        raise InvalidRecord(f"the agreement has no {role}")
    if value in parties:
        return parties[value]
    if party_address(value) is not None:
        return value
    raise InvalidRecord(f"the agreement's {role} {value!r} is not a participant address or DID: map it to one with "
                        f"--party {value}=0x<address>")  # fmt: skip


def find_request(s: Session, request_id: str | None, target: Any, consumer: str) -> dict[str, Any]:
    """The request the agreement concludes: ``--request``, or the only candidate (module docstring)."""
    if request_id is not None:
        return s.record(request_id, "contract_request", "--request")
    if not isinstance(target, str) or not formats.RECORD_ID.fullmatch(target):
        raise InvalidRecord(f"the agreement's target {target!r} is not a dataset record id")
    def for_my_offer(r: dict[str, Any]) -> bool:  # address terms are stored case-folded
        return any(t["name"] == "provider" and t["value"].lower() == s.address.lower() for t in r.get("terms", []))

    found = [r for r in s.records("contract_request", status="requested", dataset=target, consumer=consumer)
             if for_my_offer(r)]  # fmt: skip
    if len(found) != 1:
        which = "no" if not found else f"{len(found)}"
        raise InvalidRecord(f"{which} open requests by {consumer} for your offers of {target}: pass --request "
                            "REQUEST_ID to name the request this agreement concludes")  # fmt: skip
    return found[0]


def import_agreement(args: argparse.Namespace, msg: dict[str, Any]) -> int:
    agreement = field(msg, "agreement")
    if not isinstance(agreement, dict):
        raise InvalidRecord(f"{args.file}: a ContractAgreementMessage holds its agreement under 'agreement'")
    payload = copy.deepcopy(agreement)
    if "@context" not in payload and "@context" in msg:
        payload = {"@context": copy.deepcopy(msg["@context"]), **payload}
    agreement_id = payload.get("@id")
    if not isinstance(agreement_id, str) or not formats.RECORD_ID.fullmatch(agreement_id):
        raise InvalidRecord(f"{args.file}: the agreement's @id {agreement_id!r} is not a record id")
    parties = parse_parties(args.party)
    for role in ("assigner", "assignee"):
        payload[role] = map_party(payload, role, parties)
    s = Session(args)
    request = find_request(s, args.request, payload.get("target"), party_address(payload["assignee"]) or "")
    parents = [offer_of(s, request)["leaf_hash"], request["leaf_hash"]]
    return report("contract_agreement", s.submit("contract_agreement", payload, parents, agreement_id))


def import_transfer(args: argparse.Namespace, msg: dict[str, Any], kind: str) -> int:
    named = field(msg, "contractId" if kind == "TransferRequestDto" else "agreementId")
    if args.agreement is not None and named is not None and named != args.agreement:
        raise InvalidRecord(f"{args.file} names agreement {named!r}, --agreement says {args.agreement!r}")
    agreement_id = args.agreement or named
    if agreement_id is None:
        raise InvalidRecord(f"{args.file}: a {kind} does not name its agreement; pass --agreement AGREEMENT_ID")
    if not isinstance(agreement_id, str) or not formats.RECORD_ID.fullmatch(agreement_id):
        raise InvalidRecord(f"{args.file}: the agreement id {agreement_id!r} is not a record id")
    pids = (field(msg, "consumerPid"), field(msg, "providerPid"), msg.get("@id"))
    process = next((p for p in pids if isinstance(p, str) and p), None)
    return submit_access(Session(args), agreement_id, action=args.action or "use", at=args.at or now(),
                         actor=args.actor, purpose=args.purpose, spatial=args.spatial,
                         transfer_process_id=process, assignee_acts=True)  # fmt: skip


def cmd_import_dsp(args: argparse.Namespace) -> int:
    msg = read_json_file(args.file, "message")
    kind = message_type(msg, args.file)
    if kind in AGREEMENT_TYPES:
        misplaced = [f for f, v in TRANSFER_FLAGS.items() if getattr(args, v) is not None]
        if misplaced:
            raise UsageError(f"{', '.join(misplaced)}: for transfer messages, not a {kind}")
        return import_agreement(args, msg)
    misplaced = [f for f, v in AGREEMENT_FLAGS.items() if getattr(args, v)]
    if misplaced:
        raise UsageError(f"{', '.join(misplaced)}: for agreement messages, not a {kind}")
    return import_transfer(args, msg, kind)
