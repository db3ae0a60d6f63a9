"""The demo's digital product passport (issue 10): Volta Pack Systems' battery pack VP-48,
serial VP48-2026-000123, issued from the pack's public footprint (rolled up from its
cells, whose footprints stay private: the page shows their hashes), with its QR code
written beside the demo's keys."""

from __future__ import annotations

from pathlib import Path

from ledger import passport_builder
from ledger.access import ANONYMOUS
from ledger.datadir import signed_submission
from ledger.demo_footprints import FOOTPRINTS
from ledger.errors import NotFound
from ledger.kinds.pcf import parse_pcf
from ledger.log import Ledger
from ledger.qr import qr_bytes

PASSPORT_ID = "urn:uuid:8a7d3c10-5e2b-4f19-9c64-0b1d2e3f4a05"
ISSUER = "battery-maker"
FACTS = {
    "name": "Battery pack VP-48, 48 V",
    "description": "Stationary storage module: 96 NMC 21700 cells, 48 V, 5 kWh",
    "serial": "VP48-2026-000123",
    "productionDate": "2026-03-02",
    "countryOfProduction": "DE",
    "primarySourcedRatio": 0.6,
    "conformityClaims": [
        {"id": "https://data.battery-maker.example/claims/vp48-carbon-footprint", "conformance": True,
         "conformityTopic": "environment.emissions",
         "description": "Carbon footprint declaration per Regulation (EU) 2023/1542, Article 7"},
        {"id": "https://data.battery-maker.example/claims/vp48-ce", "conformance": True,
         "conformityTopic": "governance.compliance", "description": "CE marking: EU declaration of conformity"},
    ],
}  # fmt: skip


def load_passport(ledger: Ledger, keys: dict[str, bytes], *, issuer_name: str, public_url: str,
                  qr_dir: Path) -> tuple[bool, str, Path]:  # fmt: skip
    """Issue the demo passport if it is missing; (changed, its Digital Link URI, the QR SVG)."""
    pack = FOOTPRINTS[-1]
    fp = parse_pcf(ledger.record(pack.pf_id, ANONYMOUS).payload_json())
    changed = False
    try:
        ledger.record(PASSPORT_ID, ANONYMOUS)
    except NotFound:
        issued = passport_builder.build(FACTS, fp.view, private_key=keys[ISSUER], issuer_name=issuer_name,
                                        public_url=public_url, status_index=0)  # fmt: skip
        parent = ledger.record(pack.pf_id, ANONYMOUS).entry.leaf_hash.hex()
        ledger.submit([signed_submission(ledger, keys[ISSUER], kind="passport", payload=issued.payload,
                                         parents=(parent,), record_id=PASSPORT_ID)])  # fmt: skip
        changed = True
    stored = ledger.record(PASSPORT_ID, ANONYMOUS).payload_json()
    uri = stored["credential"]["credentialSubject"]["product"]["id"]
    qr = qr_dir / "passport-qr.svg"
    qr.write_bytes(qr_bytes(uri, "svg"))
    (qr_dir / "passport-qr.png").write_bytes(qr_bytes(uri, "png"))
    return changed, uri, qr
