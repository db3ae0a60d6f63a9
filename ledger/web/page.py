"""The public passport page (DESIGN §12): what a customs officer or a customer sees after
scanning a product's QR code, server-rendered from a ``passport_views.PassportPage``.

- ``render_passport``: the HTML page, in English or Simplified Chinese. It works without
  JavaScript and makes no request to another site: the stylesheet and the verification
  script come from ``/static`` (``ledger/web/static``), the QR image from ``/v1/qr.svg``,
  the lineage picture is inline. Every visible string comes from ``ledger.web.i18n``.
- ``negotiate_language``: ``?lang=`` first, else ``Accept-Language`` (q-values), else English.
- ``page_json``: the same facts as JSON, for ``GET /v1/passports/{id}``.

Jinja autoescaping is on. Data shown in a sentence is marked ``translate="no"`` (numbers,
identifiers) or put in ``<bdi>`` (free text: names, reasons, claims), so the tests can tell
the page's own words from data.
"""

from __future__ import annotations

import json
import re
import shlex
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from ledger import gs1
from ledger.errors import MalformedInput
from ledger.kinds.passport import REVOKED, STATUS_PATH, UNITS
from ledger.passport_views import PassportPage
from ledger.web import i18n

TEMPLATES = Path(__file__).resolve().parent / "templates"
SCRIPT = "/static/tdsl-verify.js"
STYLESHEET = "/static/passport.css"
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
_XML_PROLOG = re.compile(r"\A\s*(?:<\?xml[^>]*\?>\s*)?(?:<!DOCTYPE[^>]*>\s*)?")
_MAX_ACCEPT_ITEMS = 32


# -- language ------------------------------------------------------------------------------


def _supported(tag: str) -> str | None:
    """The page language for a BCP 47 tag, or None: ``en-*`` → en; ``zh``, ``zh-CN``,
    ``zh-SG``, ``zh-Hans[-*]`` → zh-CN; Traditional Chinese (``zh-TW``, ``zh-Hant``…) is not served."""
    parts = tag.strip().lower().split("-")
    if parts[0] == "en":
        return "en"
    if parts[0] == "zh":
        if len(parts) == 1 or parts[1] in ("hans", "cn", "sg"):
            return "zh-CN"
    return None


def negotiate_language(lang: str | None, accept_language: str | None) -> str:
    """``"en"`` or ``"zh-CN"``. An explicit ``lang`` (``?lang=``) must be supported, else
    ``MalformedInput`` naming the supported ones; ``Accept-Language`` is read by q-value
    (ties in header order, ``q=0`` refused, ``*`` is the default), unsupported tags skipped."""
    if lang is not None:
        chosen = _supported(lang)
        if chosen is None:
            raise MalformedInput(f"lang: expected one of {', '.join(i18n.LANGUAGES)}, got {lang[:40]!r}")
        return chosen
    ranked: list[tuple[float, int, str]] = []
    for i, item in enumerate((accept_language or "").split(",")[:_MAX_ACCEPT_ITEMS]):
        tag, *params = (x.strip() for x in item.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if tag and 0.0 < q <= 1.0:
            ranked.append((-q, i, tag))
    for _, _, tag in sorted(ranked):
        chosen = i18n.DEFAULT if tag == "*" else _supported(tag)
        if chosen is not None:
            return chosen
    return i18n.DEFAULT


class Translator:
    """The strings of one language: ``t(key, **values)`` as markup, each value escaped and
    marked ``translate="no"`` unless it is already ``Markup``; ``t.text`` as plain text (for
    attributes and ``<title>``, which autoescaping escapes)."""

    def __init__(self, lang: str):
        self.lang, self.table = lang, i18n.MESSAGES[lang]

    def __call__(self, key: str, **values: Any) -> Markup:
        template, out, at = self.table[key], Markup(""), 0
        for m in _PLACEHOLDER.finditer(template):
            value = values[m.group(1)]
            out += template[at : m.start()]  # Markup + str escapes the str
            out += value if isinstance(value, Markup) else Markup('<span translate="no">%s</span>') % value
            at = m.end()
        return out + template[at:]

    def text(self, key: str, **values: Any) -> str:
        return self.table[key].format(**values)

    def term(self, prefix: str, value: str | None) -> Markup:
        """A value from a closed set (a role, an anchor status) by its name in this language;
        one the table does not know is shown as data."""
        key = f"{prefix}{value}"
        if key in self.table:
            return Markup("<span>%s</span>") % self.table[key]  # its own element: a word, not data
        return Markup('<span translate="no">%s</span>') % (value or "")

    def unit(self, code: str | None) -> Markup:
        """A UNECE Rec 20 code (``KGM``) or a PACT unit (``kilogram``) by its name in this language."""
        return self.term("unit_", UNITS.get(code or "", code))


# -- values --------------------------------------------------------------------------------


def _when(value: datetime | date | None) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return "" if value is None else value.isoformat()


def _number(value: Any) -> str:
    """A Decimal without exponent notation (``Decimal("4E+1")`` → ``40``)."""
    return "" if value is None else format(value, "f")


def links(p: PassportPage, base: str = "") -> dict[str, str]:
    """Where the passport's files are: same-origin paths (``base`` "") or absolute URLs."""
    rid = quote(p.record.entry.record_id, safe="")
    path = p.passport.link.path()
    qr = quote(path, safe="/")  # the path is percent-encoded already: its '%' must survive the query
    author = p.record.entry.author
    return {
        "page": p.canonical_uri,
        "receipt": f"{base}/v1/records/{rid}/receipt",
        "vc_jwt": f"{base}/v1/passports/{rid}/vc.jwt",
        "credential": f"{base}/v1/passports/{rid}/credential",
        "qr_svg": f"{base}/v1/qr.svg?link={qr}",
        "qr_png": f"{base}/v1/qr.png?link={qr}",
        "linkset": f"{base}{path}?linkType=all",
        "did_document": f"{base}/participants/{author}/did.json",
        "status_list": f"{base}{STATUS_PATH.format(address=author)}",
    }


def proof_json(proof: dict[str, Any]) -> Markup:
    """``proof`` as JSON that is safe as the text of a ``<script>`` element: ``<``, ``>`` and
    ``&`` are written ``\\u003c``, ``\\u003e``, ``\\u0026`` (JSON.parse reads them back), so
    no ``</script>`` or ``<!--`` can end or change the element; the rest is ASCII."""
    text = json.dumps(proof, ensure_ascii=True, separators=(",", ":"), sort_keys=True)
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def inline_svg(svg: str | None, label: str) -> Markup | None:
    """The lineage picture for inlining: its XML declaration stripped, ``role="img"`` and
    ``aria-label`` added. Not escaped here: ``ledger.lineage_render.render_svg`` escapes
    every title and label it draws (``xml.sax.saxutils``) and writes no script or link."""
    if not svg:
        return None
    body = _XML_PROLOG.sub("", svg, count=1)
    if not body.startswith("<svg "):
        return None
    return Markup('<svg role="img" aria-label="%s" ') % label + Markup(body[len("<svg ") :])


# -- the page ------------------------------------------------------------------------------


@cache
def _environment() -> Environment:
    return Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True, undefined=StrictUndefined,
                       trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)  # fmt: skip


def render_passport(p: PassportPage, *, lang: str, public_url: str, proof: dict[str, Any],
                    link: gs1.DigitalLink) -> str:  # fmt: skip
    """The public page of ``p`` in ``lang`` (``negotiate_language``). ``link`` is the Digital
    Link that was opened (an item falls back to its model's passport), ``proof`` the bundle
    the verification panel checks (``PassportPage.proof_bundle``)."""
    t = Translator(lang)
    others = [x for x in i18n.LANGUAGES if x != lang]
    rid = p.record.entry.record_id
    receipt_file = f"receipt-{rid}.json"
    command = ["tdsl", "verify", receipt_file, "--origin", str(proof.get("origin", "")),
               "--note-key", str(proof.get("vkey", ""))]  # fmt: skip
    return _environment().get_template("passport.html").render(
        p=p, dpp=p.passport.dpp, t=t, lang=lang, when=_when, number=_number,
        revoked=p.status == REVOKED, links=links(p), proof=proof, proof_json=proof_json(proof),
        lineage=inline_svg(None if p.lineage is None else p.lineage.svg(
            per=t.table["lineage_per"], not_public=t.text("lineage_not_public"), legend_title=t.text("lineage_edges"),
            type_names={"component_of": t.text("lineage_component_of"), "supersedes": t.text("lineage_supersedes")}),
            t.text("lineage_alt")),  # fmt: skip
        opened=link.path(), own_path=p.passport.link.path(), public_base=public_url.rstrip("/"),
        version=(p.versions.index(rid) + 1 if rid in p.versions else None, len(p.versions)),
        languages=[(x, i18n.MESSAGES[x]["language_name"]) for x in others], all_languages=i18n.LANGUAGES,
        receipt_file=receipt_file, command=shlex.join(command),
        script=SCRIPT, stylesheet=STYLESHEET,
    )  # fmt: skip


def page_json(p: PassportPage, public_url: str) -> dict[str, Any]:
    """The facts of the page as JSON (``GET /v1/passports/{id}``). Numbers that must stay
    exact (footprints) are decimal strings; links are absolute, at ``public_url``."""
    d, fp, who = p.passport.dpp, p.footprint, p.issuer
    return {
        "record_id": p.record.entry.record_id,
        "product": {"name": d.product_name, "id": d.product_id, "digital_link": p.canonical_uri,
                    "gtin": p.passport.link.gtin, "serial": p.passport.link.serial, "lot": p.passport.link.lot,
                    "granularity": d.granularity},  # fmt: skip
        "scorecard": {"carbon_footprint": _number(d.carbon_footprint) or None, "declared_unit": d.declared_unit},
        "footprint": None if fp is None else {
            "record_id": fp.record_id, "leaf_hash": fp.leaf_hash, "value": fp.value, "unit": fp.unit,
            "amount": fp.amount, "status": fp.status,
        },  # fmt: skip
        "conformity": [{"id": c.id, "topic": c.topic, "description": c.description, "standard": c.standard,
                        "regulation": c.regulation, "conformance": c.conformance,
                        "assessment_date": _when(c.assessment_date) or None, "evidence_url": c.evidence_url}
                       for c in d.conformity],  # fmt: skip
        "issuer": {"did": d.issuer_id, "address": p.record.entry.author, "name_in_credential": d.issuer_name,
                   "registered": None if who is None else {"name": who.name, "legal_id": who.legal_id,
                                                           "roles": sorted(who.roles)}},  # fmt: skip
        "status": {"status": p.status, "reason": p.status_reason or None, "valid_from": d.valid_from.isoformat(),
                   "valid_until": d.valid_until.isoformat() if d.valid_until else None},  # fmt: skip
        "anchor": None if p.anchor is None else {
            **p.anchor, "sent_at": p.anchor_sent_at.isoformat() if p.anchor_sent_at else None},
        "log": {"leaf_index": p.receipt.leaf_index, "tree_size": p.receipt.tree_size,
                "leaf_hash": p.record.entry.leaf_hash.hex()},  # fmt: skip
        "links": links(p, public_url.rstrip("/")),
        "versions": list(p.versions),
    }
