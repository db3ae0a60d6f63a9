"""The official side of ``tests/test_untp.py``: the UNTP and W3C schemas as validators, and
an independent reference of the ledger's own rules (the mutations are ``untp_mutations``).

The schemas are read in place from ``../shared/vectors`` (UNTP's are GPL-3.0: never copied
into this repository). What is translated, and why:

1. Dialect: each schema names JSON Schema 2020-12 in ``$schema``; the validator class is
   the one ``jsonschema.validators.validator_for`` picks from it (a test asserts 2020-12).
2. ``$ref``: every ``$ref`` is ``#/$defs/…``, inside its own document; each document is one
   ``referencing`` resource (the VC schema under its ``$id``, the UNTP ones under a URN).
3. ``pattern``: JSON Schema means ECMA-262, where ``$`` is the end of the string; Python's
   ``re.search`` (jsonschema's engine) also lets ``$`` match before a final newline. Each
   pattern gets ``(?a)`` in front and every unescaped ``$`` outside a class as ``\\Z``.
4. ``format`` is asserted: ``date-time`` (rfc3339-validator), ``date`` (jsonschema's own),
   ``uri`` (rfc3986-validator, whose ``^…$`` + ``re.match`` also takes a trailing newline:
   such a string is refused here, as RFC 3986 does). ``float`` and ``binary`` are formats
   no validator knows; JSON Schema treats them as annotations, and so do we.

A credential is **accepted** by the official side when the UNTP schema of the version its
second ``@context`` names (0.6.1 if it names neither) accepts it, the VC 2.0 schema accepts
it, and ``ledger_rule_refusing`` finds none of the ledger's own rules broken.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import FormatChecker
from jsonschema.protocols import Validator
from jsonschema.validators import validator_for
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from rfc3986_validator import validate_rfc3986

VECTORS = Path(__file__).resolve().parents[2] / "shared" / "vectors"
UNTP = VECTORS / "untp"
SCHEMA_FILES = {
    "untp-0.6.1": UNTP / "dpp-0.6.1" / "untp-dpp-schema.json",
    "untp-working": UNTP / "dpp" / "untp-dpp-schema.json",
    "untp-0.6.1-ProductPassport": UNTP / "dpp-0.6.1" / "ProductPassport-schema.json",
    "vc-2.0": VECTORS / "w3c" / "verifiable-credential-schema.json",
}
V2 = "https://www.w3.org/ns/credentials/v2"
CTX_061 = "https://test.uncefact.org/vocabulary/untp/dpp/0.6.1/"
CTX_WORKING = "https://test.uncefact.org/vocabulary/untp/dpp/working/"
BITSTRING = "BitstringStatusListEntry"


def load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


# -- the official validators ----------------------------------------------------------------


def ecma_pattern(pattern: str) -> str:
    """An ECMA-262 pattern as a Python one (translation 3)."""
    out, escaped, in_class = [], False, False
    for ch in pattern:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == "[":
            in_class = True
        elif ch == "]":
            in_class = False
        elif ch == "$" and not in_class:
            ch = r"\Z"
        out.append(ch)
    return "(?a)" + "".join(out)


def _translate(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: ecma_pattern(v) if k == "pattern" and isinstance(v, str) else _translate(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_translate(v) for v in node]
    return node


def official_uri(text: str) -> bool:
    """rfc3986-validator's ``URI`` rule, matched whole (translation 4)."""
    return bool(validate_rfc3986(text, rule="URI")) and not text.endswith("\n")


@cache
def format_checker() -> FormatChecker:
    checker = FormatChecker(formats=("date-time", "date"))
    checker.checks("uri")(official_uri)
    return checker


@cache
def schema(name: str) -> dict[str, Any]:
    return load(SCHEMA_FILES[name])


@cache
def validator(name: str) -> Validator:
    doc = schema(name)
    uri = doc.get("$id", f"urn:tds-ledger:test:{name}")
    resource = Resource.from_contents(_translate(doc), default_specification=DRAFT202012)
    cls = validator_for(doc)
    return cls({"$ref": uri}, registry=Registry().with_resource(uri, resource), format_checker=format_checker())


def untp_schema_for(doc: Any) -> str:
    """The UNTP schema a credential is judged by: the version its second context names."""
    contexts = doc.get("@context") if isinstance(doc, dict) else None
    second = contexts[1] if isinstance(contexts, list) and len(contexts) > 1 else None
    return "untp-working" if second == CTX_WORKING else "untp-0.6.1"


def official_errors(name: str, doc: Any) -> list[str]:
    return [f"{e.json_path}: {e.message}"[:200] for e in validator(name).iter_errors(doc)]


# -- the ledger's own rules, written independently of ledger.untp ---------------------------


def ledger_rule_refusing(doc: dict[str, Any]) -> str | None:
    """The ledger rule (a key of ``LEDGER_RULES`` in test_untp) ``doc`` breaks, or None.

    Only meaningful for a document both official schemas accept."""
    if "validFrom" not in doc:
        return "validFrom required"
    subject = doc["credentialSubject"]
    if "product" not in subject:
        return "product required"
    if "granularityLevel" not in subject:
        return "granularityLevel required"
    status = doc.get("credentialStatus", [])
    for entry in status if isinstance(status, list) else [status]:
        kind = entry["type"]
        if not (kind == BITSTRING or (isinstance(kind, list) and BITSTRING in kind)):
            continue
        purpose, index = entry.get("statusPurpose"), entry.get("statusListIndex")
        url, size, own = entry.get("statusListCredential"), entry.get("statusSize", 1), entry.get("id")
        if not (isinstance(purpose, str) and purpose != ""):
            return "Bitstring entry"
        if not (isinstance(index, str) and re.fullmatch(r"(?a)0|[1-9][0-9]{0,19}", index)):
            return "Bitstring entry"
        if not (isinstance(url, str) and official_uri(url)):
            return "Bitstring entry"
        if "id" in entry and not (isinstance(own, str) and official_uri(own) and own != url):
            return "Bitstring entry"
        if not (type(size) is int and size > 0):
            return "Bitstring entry"
    return None


def official_refusal(doc: dict[str, Any]) -> str | None:
    """Why the official side refuses ``doc`` (``untp``, ``vc`` or the ledger rule), or None."""
    if not validator(untp_schema_for(doc)).is_valid(doc):
        return "untp"
    if not validator("vc-2.0").is_valid(doc):
        return "vc"
    return ledger_rule_refusing(doc)




def instance(relpath: str) -> dict[str, Any]:
    """A file under ``../shared/vectors/untp``, decoded."""
    return load(UNTP / relpath)
