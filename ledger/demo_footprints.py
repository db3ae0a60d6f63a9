"""The demo's supply chain: three footprints, each rolled up from the one below it.

- ``cathode-supplier`` publishes the footprint of an NMC811 cathode material (per kg),
  private, and discloses it to the cell maker;
- ``cell-supplier`` publishes its cell's footprint (per cell: 0.35 kg of cathode plus its
  own process emissions), rolled up with ``ledger.pcf_builder``, and discloses it to the
  pack maker;
- ``battery-maker`` publishes the EU-bound battery pack's footprint (per pack: 96 cells
  plus its own assembly), public.

Fixed ids, so loading again finds them; each step (record, disclosure) is idempotent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ledger.datadir import signed_submission
from ledger.errors import NotFound
from ledger.log import Ledger
from ledger.pcf_builder import Component, with_lineage


@dataclass(frozen=True, slots=True)
class DemoFootprint:
    pf_id: str
    author: str  # a demo participant's name
    product: str  # urn:gtin:…
    name: str
    unit: str
    own: tuple[str, str, str]  # excluding / including biogenic uptake, fossil: own process emissions
    components: tuple[tuple[str, str], ...] = ()  # (pf_id, quantity per declared unit)
    disclose_to: str | None = None  # a demo participant's name
    visibility: str = "private"
    mass: str = "1"  # kg per declared unit

    def plain(self, company_id: str, company_name: str) -> dict[str, Any]:
        return {
            "id": self.pf_id,
            "specVersion": "3.0.0",
            "created": "2026-11-15T09:00:00Z",
            "status": "Active",
            "validityPeriodStart": "2026-01-01T00:00:00Z",
            "validityPeriodEnd": "2027-12-31T00:00:00Z",
            "companyName": company_name,
            "companyIds": [company_id],
            "productDescription": self.name,
            "productIds": [self.product],
            "productNameCompany": self.name,
            "pcf": {
                "declaredUnitOfMeasurement": self.unit,
                "declaredUnitAmount": "1",
                "productMassPerDeclaredUnit": self.mass,
                "referencePeriodStart": "2025-01-01T00:00:00Z",
                "referencePeriodEnd": "2026-01-01T00:00:00Z",
                "geographyCountry": "DE" if self.author == "battery-maker" else "CN",
                "pcfExcludingBiogenicUptake": self.own[0],
                "pcfIncludingBiogenicUptake": self.own[1],
                "fossilCarbonContent": "0",
                "fossilGhgEmissions": self.own[2],
                "ipccCharacterizationFactors": ["AR6"],
                "crossSectoralStandards": ["ISO14067", "PACT-3.0"],
                "exemptedEmissionsPercent": "0",
            },
        }


FOOTPRINTS = (
    DemoFootprint("5b0f8a52-2c1e-4d0a-9f3e-6a1b7c8d9e01", "cathode-supplier", "urn:gtin:4012345000108",
                  "NMC811 cathode active material", "kilogram", ("15.20", "15.05", "14.90"),
                  disclose_to="cell-supplier"),
    DemoFootprint("5b0f8a52-2c1e-4d0a-9f3e-6a1b7c8d9e02", "cell-supplier", "urn:gtin:4012345000207",
                  "NMC 21700 cell, 5 Ah", "piece", ("1.10", "1.05", "1.00"),
                  components=(("5b0f8a52-2c1e-4d0a-9f3e-6a1b7c8d9e01", "0.35"),), disclose_to="battery-maker",
                  mass="0.07"),
    DemoFootprint("5b0f8a52-2c1e-4d0a-9f3e-6a1b7c8d9e03", "battery-maker", "urn:gtin:4012345000306",
                  "Battery pack VP-48, 48 V", "piece", ("85.0", "84.2", "80.5"),
                  components=(("5b0f8a52-2c1e-4d0a-9f3e-6a1b7c8d9e02", "96"),), visibility="public", mass="9.5"),
)  # fmt: skip


def load_footprints(ledger: Ledger, keys: dict[str, bytes], members: dict[str, tuple[str, str, str]]) -> bool:
    """Publish the demo footprints and disclosures that are missing; True if any was.

    ``members``: participant name → (address, company id URN, display name).
    """
    operator = ledger.viewer_for(ledger.log.operator)
    changed = False
    for f in FOOTPRINTS:
        address, company_id, company_name = members[f.author]
        try:
            ledger.record(f.pf_id, operator)
        except NotFound:
            plain = f.plain(company_id, company_name)
            parts = [ledger.record(pf, operator) for pf, _ in f.components]
            components = [Component(p.to_json()["payload"], p.entry.leaf_hash.hex(), qty)
                          for p, (_, qty) in zip(parts, f.components)]  # fmt: skip
            payload = with_lineage(plain, components, max_places=4) if components else plain
            sub = signed_submission(ledger, keys[f.author], kind="pcf", payload=payload, record_id=f.pf_id,
                                    parents=tuple(c.leaf_hash for c in components), visibility=f.visibility)  # fmt: skip
            ledger.submit([sub])
            changed = True
        if f.disclose_to is not None:
            author = ledger.viewer_for(address)
            grantee = members[f.disclose_to][0]
            if grantee not in ledger.disclosures(f.pf_id, author):
                ledger.disclose(f.pf_id, [grantee], author)
                changed = True
    return changed
