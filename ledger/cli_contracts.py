"""``tdsl contract offer|request|agree|revoke`` and ``tdsl access``: the contract records
(DESIGN §8) built from plain ODRL JSON, signed with ``--key-file`` and submitted.

Each command reads what it builds on (the dataset, the offer, the request, the agreement)
from the ledger by record id — its leaf hash becomes the parent, its payload supplies
what the new record must repeat — so the user never copies hashes or rules by hand:

- ``contract offer RULES.json --dataset ID``: an ODRL ``Offer`` (``@context`` ODRL, or the
  file's own; ``@id`` = ``--id`` or a new ``urn:uuid``; ``target`` the dataset; ``assigner``
  the author) with the file's ``permission``/``prohibition``/``obligation``. The file is a
  plain rules object, a whole policy (its ``@context`` and rules are kept, the rest is
  not), or an EDC policy definition (the policy under ``policy``). Parent: the dataset.
- ``contract request OFFER_ID``: an EDC ``ContractRequest`` accepting the offer's exact
  terms (``policy`` = the offer's payload). ``counterPartyId`` defaults to the offer's
  ``assigner``, ``counterPartyAddress`` to the EDC samples' provider DSP endpoint
  (``DEFAULT_COUNTER_PARTY_ADDRESS``). Parent: the offer.
- ``contract agree REQUEST_ID``: the DSP ``Agreement`` (``@context`` the offer's,
  ``timestamp`` now unless ``--timestamp``, ``assigner`` the author, ``assignee`` the
  request's author, the offer's rules). Parents: the offer, then the request.
- ``contract revoke AGREEMENT_ID``: ``{"agreement": id, "reason": text}``; parent the agreement.
- ``access AGREEMENT_ID``: an ``access_event`` (``dataset`` = the agreement's ``target``,
  ``actor`` the author unless ``--actor``); parent the agreement. Its verdict is printed.

``tdsl import dsp`` (Dataspace Protocol messages) is ``ledger.cli_import``, on the same
``Session``. All talk to a server (``--url``, ``--token``: the author's token) unless
``--data-dir`` is given, in which case they use the data directory as its operator.
"""

from __future__ import annotations

import argparse
import copy
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from ledger import cli_http, formats
from ledger.canonical import parse_json
from ledger.cli_commands import _out, _remote_domain, _settings, _sign
from ledger.datadir import open_data_dir
from ledger.demo import read_key_file
from ledger.envelope import address_of
from ledger.errors import InvalidRecord, MalformedInput, MalformedJSON
from ledger.views import RecordQuery, state_json

ODRL_CONTEXT = "http://www.w3.org/ns/odrl.jsonld"
EDC_CONTEXT = {"@vocab": "https://w3id.org/edc/v0.0.1/ns/"}
DSP_PROTOCOL = "dataspace-protocol-http:2025-1"
#: Where the EDC samples' provider connector speaks the Dataspace Protocol.
DEFAULT_COUNTER_PARTY_ADDRESS = "http://localhost:19194/protocol/2025-1"
RULE_KEYS = ("permission", "prohibition", "obligation")


def now() -> str:
    """The current time as RFC 3339 UTC, as ``issued_at`` is written."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_id() -> str:
    return f"urn:uuid:{uuid.uuid4()}"


def read_json_file(path: Path, what: str) -> dict[str, Any]:
    """The JSON object in ``path``; a clear one-line error for a missing, unreadable or
    malformed file, or one that does not hold an object."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise MalformedInput(f"cannot read the {what} {path}: {e.strerror or e}") from None
    try:
        value = parse_json(data)
    except MalformedJSON as e:
        raise MalformedInput(f"the {what} {path} is not valid JSON: {e}") from None
    if not isinstance(value, dict):
        raise MalformedInput(f"the {what} {path} must hold a JSON object, not {type(value).__name__}")
    return value


class Session:
    """The author (``--key-file``) and the ledger (a server, or ``--data-dir``) a command
    reads records from and submits one record to."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        try:
            self.address = address_of(read_key_file(args.key_file))
        except OSError as e:
            raise MalformedInput(f"cannot read the key file {args.key_file}: {e.strerror or e}") from None
        self.ledger = open_data_dir(_settings(args)) if args.data_dir is not None else None
        self.url = None if self.ledger is not None else args.url.rstrip("/")

    def record(self, record_id: str, kind: str, what: str) -> dict[str, Any]:
        """The record ``record_id`` as the author sees it (JSON of ``GET /v1/records/{id}``),
        which must be a ``kind``."""
        if self.ledger is not None:
            record = self.ledger.record(record_id, self.ledger.viewer_for(self.ledger.log.operator)).to_json()
        else:
            record = cli_http.get_record(self.url, record_id, token=self.args.token)
        if record.get("kind") != kind:
            raise InvalidRecord(f"{what} {record_id!r} is a {record.get('kind')}, not a {kind}")
        return record

    def payload(self, record: dict[str, Any], what: str) -> dict[str, Any]:
        body = record.get("payload")
        if not isinstance(body, dict):
            raise InvalidRecord(f"the payload of {what} {record['id']!r} is not yours to read (or was erased)")
        return body

    def records(self, kind: str, status: str | None = None, **terms: str) -> list[dict[str, Any]]:
        """Every record of ``kind`` the author may see filed under ``terms`` (and with the
        derived ``status``), in log order."""
        if self.ledger is not None:
            q = RecordQuery(kind=kind, terms=tuple(terms.items()), status=status)
            viewer, found, start = self.ledger.viewer_for(self.ledger.log.operator), [], 0
            while start is not None:
                views, start = self.ledger.list_records(viewer, start=start, limit=100, query=q)
                found.extend(v.to_json() for v in views)
            return found
        found, start = [], 0
        while start is not None:  # cli_http has no list call: GET /v1/records with the filters
            query = urlencode({"kind": kind, **terms, "start": start, "limit": 100})
            page = cli_http._call("GET", f"{self.url}/v1/records?{query}", token=self.args.token)
            found.extend(page["records"])
            start = page.get("next_start")
        return [r for r in found if status is None or (r.get("state") or {}).get("status") == status]

    def submit(self, kind: str, payload: dict[str, Any], parents: list[str], record_id: str) -> dict[str, Any]:
        """Sign ``payload`` as ``kind`` with these parent leaf hashes and append it; the
        answer of ``POST /v1/records`` (id, leaf_index, leaf_hash, duplicate, state)."""
        sign = argparse.Namespace(kind=kind, parent=parents, component=[], id=record_id, key_file=self.args.key_file,
                                  visibility=None, data_dir=self.args.data_dir)  # fmt: skip
        if self.ledger is not None:
            a = self.ledger.submit([_sign(sign, self.ledger.origin, self.ledger.domain, payload)])[0]
            return {"id": a.record_id, "leaf_index": a.leaf_index, "leaf_hash": a.leaf_hash.hex(),
                    "duplicate": a.duplicate, "state": state_json(a.state)}  # fmt: skip
        origin, domain = _remote_domain(cli_http.get_log(self.url))
        return cli_http.post_record(self.url, _sign(sign, origin, domain, payload).to_json(), token=self.args.token)


def verdict_line(state: dict[str, Any] | None) -> str:
    """An access event's verdict in one line: ``violation: <reason> (count 4, late)``."""
    if not state:
        return "verdict: none (the record was already stored)"
    facts = state.get("facts") or {}
    notes = [f"count {facts['count']}"] if "count" in facts else []
    notes += ["late"] if facts.get("late") == "true" else []
    return f"{state['status']}: {state.get('reason') or '-'}" + (f" ({', '.join(notes)})" if notes else "")


def report(kind: str, answer: dict[str, Any]) -> int:
    done = "already stored" if answer.get("duplicate") else "appended"
    _out(f"{done} {kind} {answer['id']} at leaf {answer['leaf_index']}")
    if kind == "access_event":
        _out(verdict_line(answer.get("state")))
    return 0


# -- offer, request, agree, revoke -------------------------------------------------------


def offer_rules(doc: dict[str, Any], path: Path) -> tuple[Any, dict[str, Any]]:
    """The ``@context`` and the rules of a rules file (module docstring)."""
    if not any(k in doc for k in RULE_KEYS) and isinstance(doc.get("policy"), dict):
        doc = doc["policy"]  # an EDC policy definition
    rules = {k: copy.deepcopy(doc[k]) for k in RULE_KEYS if k in doc}
    if not any(rules.values()):
        raise InvalidRecord(f"{path} holds no rules: give at least one permission, prohibition or obligation")
    return doc.get("@context", ODRL_CONTEXT), rules


def cmd_contract_offer(args: argparse.Namespace) -> int:
    context, rules = offer_rules(read_json_file(args.rules, "rules file"), args.rules)
    s = Session(args)
    dataset = s.record(args.dataset, "dataset", "dataset")
    offer_id = args.id or new_id()
    payload = {"@context": context, "@id": offer_id, "@type": "Offer", "target": dataset["id"], "assigner": s.address,
               **rules}  # fmt: skip
    return report("contract_offer", s.submit("contract_offer", payload, [dataset["leaf_hash"]], offer_id))


def cmd_contract_request(args: argparse.Namespace) -> int:
    s = Session(args)
    offer = s.record(args.offer_id, "contract_offer", "offer")
    policy = s.payload(offer, "offer")
    assigner = policy.get("assigner")
    payload = {
        "@context": copy.deepcopy(EDC_CONTEXT), "@type": "ContractRequest",
        "counterPartyId": args.counter_party_id or (assigner if isinstance(assigner, str) else offer["author"]),
        "counterPartyAddress": args.counter_party_address or DEFAULT_COUNTER_PARTY_ADDRESS,
        "protocol": DSP_PROTOCOL, "policy": copy.deepcopy(policy),
    }  # fmt: skip
    request_id = args.id or new_id()
    return report("contract_request", s.submit("contract_request", payload, [offer["leaf_hash"]], request_id))


def offer_of(s: Session, request: dict[str, Any]) -> dict[str, Any]:
    """The offer a request accepts (its policy's ``@id``), checked to be its parent."""
    body = s.payload(request, "request")
    policy = body.get("policy", body.get("offer"))
    offer_id = policy.get("@id") if isinstance(policy, dict) else None
    if not isinstance(offer_id, str):
        raise InvalidRecord(f"request {request['id']!r} does not name the offer it accepts (its policy has no @id)")
    offer = s.record(offer_id, "contract_offer", "the request's offer")
    if request["envelope"]["parents"][:1] != [offer["leaf_hash"]]:
        raise InvalidRecord(f"request {request['id']!r} accepts offer {offer_id!r}, which is not its parent")
    return offer


def cmd_contract_agree(args: argparse.Namespace) -> int:
    s = Session(args)
    request = s.record(args.request_id, "contract_request", "request")
    offer = offer_of(s, request)
    terms = s.payload(offer, "offer")
    agreement_id = args.id or new_id()
    payload = {"@context": copy.deepcopy(terms.get("@context", ODRL_CONTEXT)), "@id": agreement_id,
               "@type": "Agreement", "target": terms.get("target"), "timestamp": args.timestamp or now(),
               "assigner": s.address, "assignee": request["author"],
               **{k: copy.deepcopy(terms[k]) for k in RULE_KEYS if k in terms}}  # fmt: skip
    parents = [offer["leaf_hash"], request["leaf_hash"]]
    return report("contract_agreement", s.submit("contract_agreement", payload, parents, agreement_id))


def cmd_contract_revoke(args: argparse.Namespace) -> int:
    s = Session(args)
    agreement = s.record(args.agreement_id, "contract_agreement", "agreement")
    payload = {"agreement": agreement["id"], "reason": args.reason}
    return report("contract_revocation", s.submit("contract_revocation", payload, [agreement["leaf_hash"]], new_id()))


# -- access events ---------------------------------------------------------------------------


def submit_access(s: Session, agreement_id: str, *, action: str, at: str, actor: str | None = None,
                  purpose: str | None = None, spatial: str | None = None, transfer_process_id: str | None = None,
                  assignee_acts: bool = False) -> int:  # fmt: skip
    """Append an ``access_event`` under the agreement and print its verdict. Without
    ``actor`` the actor is the author, or with ``assignee_acts`` the agreement's assignee
    (who receives the data of a transfer, whichever party reports it)."""
    if not formats.ISSUED_AT.fullmatch(at):
        raise MalformedInput(f"--at {at!r} is not an RFC 3339 UTC time such as 2026-06-01T10:00:00Z")
    agreement = s.record(agreement_id, "contract_agreement", "agreement")
    terms = s.payload(agreement, "agreement")
    target, assignee = terms.get("target"), terms.get("assignee")
    if not isinstance(target, str):
        raise InvalidRecord(f"agreement {agreement_id!r} has no target dataset")
    if actor is None:
        actor = assignee if assignee_acts and isinstance(assignee, str) else s.address
    payload = {"agreement": agreement["id"], "actor": actor, "action": action, "dataset": target, "at": at,
               "purpose": purpose, "spatial": spatial, "transfer_process_id": transfer_process_id}  # fmt: skip
    payload = {k: v for k, v in payload.items() if v is not None}
    return report("access_event", s.submit("access_event", payload, [agreement["leaf_hash"]], new_id()))


def cmd_access(args: argparse.Namespace) -> int:
    return submit_access(Session(args), args.agreement_id, action=args.action, at=args.at, actor=args.actor,
                         purpose=args.purpose, spatial=args.spatial, transfer_process_id=args.transfer_process_id)  # fmt: skip
