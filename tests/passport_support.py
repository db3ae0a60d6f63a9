"""A small supply chain with a passport for the passport tests: a public cell footprint by
a supplier, a battery pack footprint rolled up from it by the exporter, and builders for
passports (``ledger.passport_builder``, the same code ``tdsl passport issue`` runs) and
their revocations. ``tamper`` re-signs a changed credential so a test can hit one
admission rule at a time with an otherwise valid passport."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ledger import passport_builder, vcjose
from ledger.datadir import signed_submission
from ledger.kinds.pcf import parse_pcf
from ledger.log import Ledger
from ledger.passport_builder import Issued
from ledger.store import Appended
from ledger.submission import Submission
from ledger_fixtures import make_world
from pcf_support import Company, add_company, footprint, leaf_of, product_footprint

PUBLIC_URL = "https://dpp.example.com"
PACK_GTIN = "4012345000306"  # GTIN-13; its GTIN-14 is 04012345000306
CELL_GTIN = "4012345000207"
FACTS: dict[str, Any] = {
    "name": "LFP battery pack 48 V 100 Ah",
    "description": "Stationary storage module, 16 cells",
    "serial": "PACK-0001",
    "productionDate": "2026-03-02",
    "countryOfProduction": "DE",
    "conformityClaims": [{
        "id": "https://example.com/claims/eu-2023-1542", "conformance": True,
        "conformityTopic": "environment.emissions",
        "description": "Carbon footprint declared per Battery Regulation (EU) 2023/1542, Art. 7",
    }],
}  # fmt: skip


@dataclass
class PassportWorld:
    ledger: Ledger
    operator_key: bytes
    exporter: Company
    supplier: Company
    stranger: Company
    cell: Submission
    pack: Submission
    next_index: int = 0
    issued: list[Issued] = field(default_factory=list)

    def submit(self, *subs: Submission) -> list[Appended]:
        return self.ledger.submit(list(subs))

    def build(self, facts: dict[str, Any] | None = None, *, who: Company | None = None, footprint_sub: Submission | None = None,
              index: int | None = None) -> Issued:  # fmt: skip
        who = who or self.exporter
        fp = parse_pcf((footprint_sub or self.pack).payload).view
        if index is None:
            index, self.next_index = self.next_index, self.next_index + 1
        return passport_builder.build(FACTS if facts is None else facts, fp, private_key=who.key,
                                      issuer_name=who.name, public_url=PUBLIC_URL, status_index=index)  # fmt: skip

    def passport(self, issued: Issued | None = None, *, who: Company | None = None, footprint_sub: Submission | None = None,
                 supersedes: Submission | None = None, payload: dict[str, Any] | None = None) -> Submission:  # fmt: skip
        issued = issued or self.build(who=who, footprint_sub=footprint_sub)
        parents = (leaf_of(footprint_sub or self.pack),) + ((leaf_of(supersedes),) if supersedes else ())
        return signed_submission(self.ledger, (who or self.exporter).key, kind="passport",
                                 payload=payload or issued.payload, parents=parents)  # fmt: skip

    def revocation(self, passport: Submission, *, who: Company | None = None, reason: str = "recalled") -> Submission:
        return signed_submission(self.ledger, (who or self.exporter).key, kind="passport_revocation",
                                 payload={"passport": passport.envelope.id, "reason": reason},
                                 parents=(leaf_of(passport),))  # fmt: skip

    def tamper(self, change, *, who: Company | None = None) -> dict[str, Any]:
        """A passport payload whose credential ``change(credential)`` edited, signed again
        by ``who`` (default: the exporter), so only the edit is wrong."""
        who = who or self.exporter
        cred = copy.deepcopy(self.build().credential)
        change(cred)
        did = vcjose.did_web("dpp.example.com", who.address)
        header = {"alg": "ES256K", "kid": vcjose.key_id(did), "typ": "vc+jwt", "cty": "vc"}
        return {"credential": cred, "vc_jwt": raw_token(header, cred, who.key)}


def raw_token(header: dict[str, Any], claims: Any, key: bytes) -> str:
    """A JWS over ``claims`` (as JSON) with any header, signed by ``key`` through joserfc,
    as an attacker or a careless issuer could make it (``vcjose.sign_vc_jwt`` refuses to)."""
    import base64
    import json

    import coincurve
    from joserfc import jws
    from joserfc.jwk import ECKey

    pub = coincurve.PrivateKey(key).public_key.format(compressed=False)
    d = base64.urlsafe_b64encode(key).rstrip(b"=").decode()
    jwk = ECKey.import_key(vcjose.jwk_of_public_key(pub) | {"d": d})
    registry = jws.JWSRegistry(algorithms=["ES256K"])
    return jws.serialize_compact(header, json.dumps(claims).encode(), jwk, algorithms=["ES256K"], registry=registry)


def make_passport_world(tmp_path: Path, database_url: str | None = None) -> PassportWorld:
    w = make_world(tmp_path, database_url or f"sqlite:///{tmp_path / 'ledger.db'}")
    lg = w.ledger
    supplier = add_company(lg, w.operator_key, "Cell Works GmbH", ["producer"], ("LEI", "5493001KJTIIGC8Y1R12"))
    exporter = add_company(lg, w.operator_key, "Pack Systems AG", ["exporter", "producer"], ("LEI", "529900T8BM49AURSDO55"))
    stranger = add_company(lg, w.operator_key, "Other Exporter SA", ["exporter"], ("LEI", "969500UP76J52A9OXU27"))
    cell_fp = footprint(company=supplier.company_id, product=f"urn:gtin:{CELL_GTIN}", name="LFP cell 3.2 V 100 Ah",
                        values=("2.5", "2.4", "2.3"))  # fmt: skip
    cell = supplier.sign(lg, cell_fp, visibility="public")
    pack_fp = product_footprint([(cell_fp, "16")], company=exporter.company_id, product=f"urn:gtin:{PACK_GTIN}",
                                name="LFP battery pack", places=3)  # fmt: skip
    pack = exporter.sign(lg, pack_fp, parents=(leaf_of(cell),), visibility="public")
    lg.submit([cell, pack])
    return PassportWorld(lg, w.operator_key, exporter, supplier, stranger, cell, pack)
