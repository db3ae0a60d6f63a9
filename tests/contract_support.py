"""A small data space for the contract kinds' tests: a provider with a dataset, a consumer,
a stranger and a regulator on one ledger, and builders for the ODRL records between them."""

from __future__ import annotations

import copy
import hashlib
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ledger.access import Viewer
from ledger.config import Settings
from ledger.datadir import signed_submission
from ledger.log import Ledger
from ledger.store import Appended
from ledger.submission import Submission
from ledger_fixtures import make_world
from pcf_support import Company, add_company, leaf_of

ODRL_CONTEXT = "http://www.w3.org/ns/odrl.jsonld"
DSP_CONTEXT = "https://w3id.org/dspace/2025/1/context.jsonld"

#: The demo's kind of agreement: purpose, region, period and a count.
RULES: dict[str, Any] = {
    "permission": [
        {
            "action": "use",
            "constraint": [
                {"and": [
                    {"leftOperand": "purpose", "operator": "eq", "rightOperand": "battery-passport"},
                    {"leftOperand": "spatial", "operator": "isAnyOf", "rightOperand": ["DE", "FR", "NL"]},
                    {"leftOperand": "dateTime", "operator": "gteq", "rightOperand": "2026-01-01T00:00:00Z"},
                    {"leftOperand": "dateTime", "operator": "lt", "rightOperand": "2027-01-01T00:00:00Z"},
                    {"leftOperand": "count", "operator": "lteq", "rightOperand": 3},
                ]},
            ],
        }
    ],
    "prohibition": [{"action": "distribute"}],
}


@dataclass
class Space:
    ledger: Ledger
    operator_key: bytes
    provider: Company
    consumer: Company
    stranger: Company
    regulator: Viewer
    settings: Settings  # the data directory's

    def viewer(self, c: Company) -> Viewer:
        return self.ledger.viewer_for(c.address)

    def sign(self, who: Company | bytes, kind: str, payload: Any, parents: tuple[Submission, ...] = (),
             record_id: str | None = None, issued_at: str | None = None) -> Submission:  # fmt: skip
        key = who if isinstance(who, bytes) else who.key
        return signed_submission(self.ledger, key, kind=kind, payload=payload, parents=tuple(leaf_of(p) for p in parents),
                                 record_id=record_id, issued_at=issued_at)  # fmt: skip

    def submit(self, *subs: Submission) -> list[Appended]:
        return self.ledger.submit(list(subs))

    # -- builders ------------------------------------------------------------------------

    def dataset(self, title: str = "cell test data") -> Submission:
        rid = f"urn:uuid:{uuid.uuid4()}"
        return self.sign(self.provider, "dataset", {"title": title, "content_hash": "sha256:" + hashlib.sha256(title.encode()).hexdigest()},
                         record_id=rid)  # fmt: skip

    def offer(self, dataset: Submission, rules: dict | None = None, **over: Any) -> Submission:
        body = {"@context": ODRL_CONTEXT, "@id": f"urn:uuid:{uuid.uuid4()}", "@type": "Offer",
                "target": dataset.envelope.id, "assigner": self.provider.address, **copy.deepcopy(RULES if rules is None else rules)}  # fmt: skip
        body.update(over)
        return self.sign(self.provider, "contract_offer", body, (dataset,), record_id=body["@id"])

    def request(self, offer: Submission, who: Company | None = None, rules: dict | None = None) -> Submission:
        policy = copy.deepcopy(offer.payload)
        if rules is not None:
            for k in ("permission", "prohibition", "obligation"):
                policy.pop(k, None)
            policy.update(copy.deepcopy(rules))
        body = {"@context": {"@vocab": "https://w3id.org/edc/v0.0.1/ns/"}, "@type": "ContractRequest",
                "counterPartyId": "provider", "counterPartyAddress": "http://localhost:19194/protocol/2025-1",
                "protocol": "dataspace-protocol-http:2025-1", "policy": policy}  # fmt: skip
        return self.sign(who or self.consumer, "contract_request", body, (offer,), record_id=str(uuid.uuid4()))

    def agreement_payload(self, offer: Submission, consumer: Company | None = None, **over: Any) -> dict:
        rules = {k: copy.deepcopy(v) for k, v in offer.payload.items() if k in ("permission", "prohibition", "obligation")}
        body = {"@context": ODRL_CONTEXT, "@id": f"urn:uuid:{uuid.uuid4()}", "@type": "Agreement",
                "target": offer.payload["target"], "timestamp": "2026-01-01T00:00:00Z",
                "assigner": self.provider.address, "assignee": (consumer or self.consumer).address, **rules}  # fmt: skip
        body.update(over)
        return body

    def agreement(self, offer: Submission, request: Submission, payload: dict | None = None,
                  who: Company | None = None) -> Submission:  # fmt: skip
        body = payload or self.agreement_payload(offer)
        return self.sign(who or self.provider, "contract_agreement", body, (offer, request), record_id=body["@id"])

    def concluded(self, rules: dict | None = None) -> tuple[Submission, Submission, Submission, Submission]:
        """dataset, offer, request and agreement, all submitted."""
        ds = self.dataset()
        offer = self.offer(ds, rules)
        req = self.request(offer)
        agr = self.agreement(offer, req)
        self.submit(ds, offer, req, agr)
        return ds, offer, req, agr

    # Events are "read": a "use" event may have been a "distribute", which the demo rules
    # prohibit, so the evaluator answers undetermined for it (ledger.odrl.evaluate).
    def event(self, agr: Submission, *, who: Company | bytes | None = None, issued_at: str = "2026-06-01T12:00:00Z",
              **over: Any) -> Submission:  # fmt: skip
        body = {"agreement": agr.envelope.id, "actor": self.consumer.address, "action": "read",
                "dataset": agr.payload["target"], "purpose": "battery-passport", "spatial": "DE",
                "at": "2026-06-01T10:00:00Z", "transfer_process_id": f"urn:uuid:{uuid.uuid4()}"}  # fmt: skip
        body.update(over)
        body = {k: v for k, v in body.items() if v is not None}
        return self.sign(who or self.consumer, "access_event", body, (agr,), issued_at=issued_at)

    def revocation(self, agreement: Submission, who: Company | bytes | None = None, reason: str = "") -> Submission:
        return self.sign(who or self.provider, "contract_revocation", {"agreement": agreement.envelope.id, "reason": reason},
                         (agreement,))  # fmt: skip


def make_space(tmp_path: Path, url: str) -> Space:
    w = make_world(tmp_path, url)
    lg = w.ledger
    provider = add_company(lg, w.operator_key, "Cell Data Provider GmbH", ["provider"], ("LEI", "529900T8BM49AURSDO55"))
    consumer = add_company(lg, w.operator_key, "Pack Analytics BV", ["consumer"], ("LEI", "724500VKKSH9QOLTFR81"))
    stranger = add_company(lg, w.operator_key, "Other Consumer SA", ["consumer", "provider"], ("LEI", "969500UP76J52A9OXU27"))
    reg = add_company(lg, w.operator_key, "Data Space Authority", ["regulator"], ("EORI", "NL123456789000000"))
    return Space(lg, w.operator_key, provider, consumer, stranger, lg.viewer_for(reg.address), w.settings)
