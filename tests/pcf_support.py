"""Building PACT v3 footprints, honest roll-ups and a supply chain of participants for tests.

The roll-up here is written independently of ``ledger.kinds.pcf`` (``Decimal`` at high
precision, then quantized half-even), so the ledger's check is compared with a second
implementation rather than with itself.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from typing import Any

from ledger.datadir import register_participant, signed_submission
from ledger.envelope import address_of
from ledger.kinds.pcf import LINEAGE_SCHEMA
from ledger.log import Ledger
from ledger.submission import Submission

FIELDS = ("pcfExcludingBiogenicUptake", "pcfIncludingBiogenicUptake", "fossilGhgEmissions")


def footprint(
    *, pf_id: str | None = None, company: str = "urn:uuid:00000000-0000-4000-8000-000000000001",
    product: str = "urn:gtin:4012345000009", unit: str = "kilogram", amount: str = "1",
    values: tuple[str, str, str] = ("1.0", "0.9", "0.8"), preceding: tuple[str, ...] = (),
    name: str = "Product", spec: str = "3.0.0",
) -> dict[str, Any]:  # fmt: skip
    """A minimal valid PACT v3 ProductFootprint (required fields only, plus what is given)."""
    fp: dict[str, Any] = {
        "id": pf_id or str(uuid.uuid4()),
        "specVersion": spec,
        "created": "2026-11-01T00:00:00Z",
        "status": "Active",
        "companyName": f"Company of {name}",
        "companyIds": [company],
        "productDescription": f"{name}, test footprint",
        "productIds": [product],
        "productNameCompany": name,
        "pcf": {
            "declaredUnitOfMeasurement": unit,
            "declaredUnitAmount": amount,
            "productMassPerDeclaredUnit": "1",
            "referencePeriodStart": "2025-01-01T00:00:00Z",
            "referencePeriodEnd": "2026-01-01T00:00:00Z",
            "pcfExcludingBiogenicUptake": values[0],
            "pcfIncludingBiogenicUptake": values[1],
            "fossilCarbonContent": "0",
            "fossilGhgEmissions": values[2],
            "ipccCharacterizationFactors": ["AR6"],
            "crossSectoralStandards": ["ISO14067"],
            "exemptedEmissionsPercent": "0",
        },
    }
    if preceding:
        fp["precedingPfIds"] = list(preceding)
    return fp


def rollup_values(components: list[tuple[dict, str]], own: dict[str, str], places: int = 6) -> tuple[str, str, str]:
    """The three declared values of a product built from ``(component footprint, quantity)``."""
    out = []
    with localcontext() as ctx:
        ctx.prec = 200
        for f in FIELDS:
            total = Decimal(own.get(f, "0"))
            for fp, qty in components:
                total += Decimal(qty) * Decimal(fp["pcf"][f]) / Decimal(fp["pcf"]["declaredUnitAmount"])
            out.append(str(total.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)))
    return out[0], out[1], out[2]


def product_footprint(
    components: list[tuple[dict, str]], *, own: dict[str, str] | None = None, places: int = 6, **kw: Any
) -> dict[str, Any]:
    """A footprint rolled up honestly from its components, with the lineage extension."""
    own = own if own is not None else {f: "0.5" for f in FIELDS}
    fp = footprint(values=rollup_values(components, own, places), **kw)
    fp["extensions"] = [lineage_extension(components, own)]
    return fp


def lineage_extension(components: list[tuple[dict, str]], own: dict[str, str]) -> dict[str, Any]:
    return {
        "specVersion": "2.0.0",
        "dataSchema": LINEAGE_SCHEMA,
        "data": {
            "components": [
                {"pfId": fp["id"], "quantity": qty, "unit": fp["pcf"]["declaredUnitOfMeasurement"]}
                for fp, qty in components
            ],
            "own": own,
        },
    }


@dataclass
class Company:
    name: str
    key: bytes
    address: str
    company_id: str
    submitted: dict[str, Submission] = field(default_factory=dict)  # footprint id → submission

    def sign(self, ledger: Ledger, fp: dict, parents: tuple[str, ...] = (), visibility: str | None = None) -> Submission:
        sub = signed_submission(ledger, self.key, kind="pcf", payload=fp, parents=parents, record_id=fp["id"],
                                visibility=visibility)  # fmt: skip
        self.submitted[fp["id"]] = sub
        return sub


def add_company(ledger: Ledger, operator_key: bytes, name: str, roles: list[str], legal: tuple[str, str]) -> Company:
    key = os.urandom(32)
    address = address_of(key)
    register_participant(ledger, operator_key, address=address, name=name, legal_id=legal, roles=roles)
    return Company(name, key, address, f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, name)}")


def leaf_of(sub: Submission) -> str:
    from ledger import merkle

    return merkle.leaf_hash(sub.envelope.to_bytes()).hex()
