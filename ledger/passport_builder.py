"""Build a passport's credential from the product's footprint and a small file of product
facts, and sign it as VC-JOSE with the issuer's key (``tdsl passport issue``, the demo).

The credential is a UNTP DPP 0.6.1 ``DigitalProductPassport`` (W3C VC 2.0):
``credentialSubject.product.id`` is the Digital Link URI at the public base URL, the
issuer is the author's ``did:web``, ``credentialStatus`` the next free index of the
issuer's revocation list, and the emissions scorecard is computed from the footprint
(``pcfExcludingBiogenicUptake`` ÷ ``declaredUnitAmount``, at most 6 decimal places, as
admission checks it). Product facts (YAML or JSON), all optional but ``name``::

    name: LFP battery pack 48 V 100 Ah
    description: Stationary storage module
    serial: PACK-0001          # an item passport; or lot: for a batch; neither: the model
    productionDate: 2026-03-02
    countryOfProduction: DE
    operationalScope: CradleToGate
    primarySourcedRatio: 0.6
    conformityClaims:
      - id: https://example.com/claims/ce
        description: CE conformity, Battery Regulation (EU) 2023/1542
        conformityTopic: governance.compliance
        conformance: true
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from typing import Any
from urllib.parse import urlsplit

from ledger import gs1, vcjose
from ledger.envelope import address_of
from ledger.errors import MalformedInput
from ledger.kinds.passport import STATUS_PATH, UNITS
from ledger.pact.view import FootprintView

VC_CONTEXT = "https://www.w3.org/ns/credentials/v2"
UNTP_DPP_CONTEXT = "https://test.uncefact.org/vocabulary/untp/dpp/0.6.1/"
SCORECARD_PLACES = 6
FACT_KEYS = frozenset({"name", "description", "serial", "lot", "productionDate", "countryOfProduction",
                       "operationalScope", "primarySourcedRatio", "conformityClaims", "validYears"})  # fmt: skip


@dataclass(frozen=True, slots=True)
class Issued:
    credential: dict[str, Any]
    payload: dict[str, Any]  # the passport record's payload: {"credential", "vc_jwt"}
    link: gs1.DigitalLink


def per_unit(fp: FootprintView) -> Decimal:
    """kg CO2e per declared unit, rounded half-even to ``SCORECARD_PLACES``, trailing zeros dropped."""
    with localcontext() as c:
        c.prec = 80
        value = fp.pcf_excluding_biogenic_uptake.value / fp.declared_unit_amount
        q = value.quantize(Decimal(1).scaleb(-SCORECARD_PLACES), rounding=ROUND_HALF_EVEN)
    return q.normalize() if q != 0 else Decimal(0)


def _number(d: Decimal) -> float | int:
    """A JSON number whose text is exactly ``d`` (JCS writes floats in their shortest form)."""
    if d == d.to_integral_value():
        return int(d)
    f = float(d)
    if Decimal(repr(f)) != d:
        raise MalformedInput(f"{d} has no exact JSON number form")
    return f


def gtin_of(fp: FootprintView) -> str:
    """The GTIN-14 of the footprint's first ``urn:gtin:`` product id."""
    for pid in fp.product_ids:
        if pid.lower().startswith("urn:gtin:"):
            return gs1.normalise_gtin(pid[len("urn:gtin:"):])
    raise MalformedInput(f"the footprint lists no urn:gtin: product id (it has {list(fp.product_ids)})")


def build(facts: dict[str, Any], fp: FootprintView, *, private_key: bytes, issuer_name: str, public_url: str,
          status_index: int, now: datetime | None = None, credential_id: str | None = None) -> Issued:  # fmt: skip
    """The credential for the footprint's product, signed (module docstring)."""
    unknown = sorted(set(facts) - FACT_KEYS)
    if unknown:
        raise MalformedInput(f"unknown product facts {unknown}; known: {sorted(FACT_KEYS)}")
    if not isinstance(facts.get("name"), str) or not facts["name"].strip():
        raise MalformedInput("product facts need a name")
    if facts.get("serial") is not None and facts.get("lot") is not None:
        raise MalformedInput("give a serial (an item passport) or a lot (a batch passport), not both")
    unit = UNITS.get(fp.declared_unit)
    if unit is None:
        raise MalformedInput(f"the footprint's unit {fp.declared_unit!r} has no UNECE code a passport can declare")
    link = gs1.DigitalLink(gtin_of(fp), serial=facts.get("serial"), lot=facts.get("lot"))
    link = gs1.parse_path(link.path())  # the grammar's checks on the serial or lot
    address = address_of(private_key)
    did = vcjose.did_web(host_of(public_url), address)
    base = public_url.rstrip("/")
    issued = (now or datetime.now(UTC)).replace(microsecond=0)
    years = int(facts.get("validYears", 10))
    product: dict[str, Any] = {"type": ["Product"], "id": base + link.path(), "name": facts["name"],
                               "registeredId": link.gtin,
                               "idScheme": {"type": ["IdentifierScheme"], "id": "https://id.gs1.org/01/",
                                            "name": "Global Trade Item Number (GTIN)"}}  # fmt: skip
    for key, out in (("description", "description"), ("serial", "serialNumber"), ("lot", "batchNumber"),
                     ("productionDate", "productionDate"), ("countryOfProduction", "countryOfProduction")):  # fmt: skip
        if facts.get(key) is not None:
            product[out] = str(facts[key])
    scorecard = {"type": ["EmissionsPerformance"], "carbonFootprint": _number(per_unit(fp)), "declaredUnit": unit,
                 "operationalScope": facts.get("operationalScope", "CradleToGate"),
                 "primarySourcedRatio": facts.get("primarySourcedRatio", 0)}  # fmt: skip
    subject: dict[str, Any] = {"type": ["ProductPassport"], "id": base + link.path(), "product": product,
                               "granularityLevel": str(link.level), "emissionsScorecard": scorecard}  # fmt: skip
    claims = facts.get("conformityClaims") or []
    if claims:
        subject["conformityClaim"] = [{"type": ["Claim", "Declaration"], **c} for c in claims]
    status_url = base + STATUS_PATH.format(address=address)
    credential = {
        "@context": [VC_CONTEXT, UNTP_DPP_CONTEXT],
        "type": ["DigitalProductPassport", "VerifiableCredential"],
        "id": credential_id or f"urn:uuid:{uuid.uuid4()}",
        "issuer": {"type": ["CredentialIssuer"], "id": did, "name": issuer_name},
        "validFrom": issued.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "validUntil": (issued + timedelta(days=365 * years)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "credentialStatus": {"id": f"{status_url}#{status_index}", "type": "BitstringStatusListEntry",
                             "statusPurpose": "revocation", "statusListIndex": str(status_index),
                             "statusListCredential": status_url},
        "credentialSubject": subject,
    }  # fmt: skip
    token = vcjose.sign_vc_jwt(credential, private_key, vcjose.key_id(did))
    return Issued(credential, {"credential": credential, "vc_jwt": token}, link)


def host_of(public_url: str) -> str:
    """The host (and port) of the public base URL, as did:web names it."""
    host = urlsplit(public_url).netloc
    if not host:
        raise MalformedInput(f"the public URL {public_url!r} has no host")
    return host
