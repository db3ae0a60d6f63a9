"""The public passport page (``ledger.web.page``, DESIGN §12), rendered from real passports
in a real ledger (``passport_support``): an item passport, a revoked one, one whose product
name is markup, and a model passport an unknown serial falls back to.

The HTML is read back with the standard library's ``html.parser`` into a small tree, and
checked for what the issue asks: landmarks, ``lang``, title, text alternatives; no request
to another origin; every visible string from the page language's table; the revoked state;
the proof bundle surviving its escape; user data escaped. The verification panel is run
through ``tdsl-verify.js`` under node (``test_verify_js``'s driver) as the page ships it.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import re
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from html_tree import El, parse
from passport_support import FACTS, PUBLIC_URL, make_passport_world
from test_verify_js import NODE, node

from ledger import gs1, passport_views
from ledger.errors import MalformedInput
from ledger.receipt import Anchor
from ledger.web import i18n, page

EVIL = "<script>alert(1)</script>"
STATIC = Path(page.__file__).resolve().parent / "static"
URL_ATTRS = {"src", "href", "srcset", "action", "formaction", "poster", "data", "xlink:href", "background", "ping"}
TEXT_ATTRS = ("alt", "aria-label", "title", "data-pass", "data-fail", "data-unsupported", "placeholder")


# -- reading HTML back -----------------------------------------------------------------------


def fragments(lang: str) -> set[str]:
    """The literal pieces of every string of ``lang``'s table, between its placeholders."""
    return {piece.strip() for v in i18n.MESSAGES[lang].values() for piece in re.split(r"\{[a-z_]+\}", v)} - {""}


def template_match(lang: str, text: str) -> bool:
    """``text`` is one of ``lang``'s strings with its placeholders filled."""
    for v in i18n.MESSAGES[lang].values():
        pieces = re.split(r"(\{[a-z_]+\})", v)
        pattern = "".join(".+" if re.fullmatch(r"\{[a-z_]+\}", p) else re.escape(p) for p in pieces)
        if re.fullmatch(pattern, text, re.S):
            return True
    return False


def label_texts(doc: El) -> list[str]:
    """The page's own words: text outside data (``translate="no"``, ``<bdi>``, ``<time>``),
    scripts, the lineage picture and elements in another language."""
    lang = doc.attrs["lang"]
    out: list[str] = []

    def visit(el: El) -> None:
        if el.tag in ("script", "style", "svg", "bdi", "time", "head") or el.attrs.get("translate") == "no":
            return
        if el.attrs.get("lang", lang) != lang:
            return
        for c in el.children:
            if isinstance(c, El):
                visit(c)
            elif c.strip():
                out.append(c.strip())

    visit(doc)
    return out


# -- the passports ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = make_passport_world(tmp_path_factory.mktemp("passport-page"))
    item = w.passport()
    recalled = w.passport(w.build(dict(FACTS, serial="PACK-0002")))
    evil = w.passport(w.build(dict(FACTS, serial="PACK-0003", name=EVIL, description=EVIL)))
    model = w.passport(w.build({k: v for k, v in FACTS.items() if k != "serial"} | {"name": "LFP pack, any"}))
    w.submit(item, recalled, evil, model)
    w.submit(w.revocation(recalled, reason="cell recall <b>R-17</b> & re-test"))
    w.subs = {"item": item, "revoked": recalled, "evil": evil, "model": model}
    return w


def passport_page(world, name: str) -> passport_views.PassportPage:
    view = world.ledger.record(world.subs[name].envelope.id)
    return passport_views.page(world.ledger, view, PUBLIC_URL)


def proof_of(world, p: passport_views.PassportPage) -> dict:
    return p.proof_bundle(world.ledger.origin, world.ledger.log.note_vkey)


def render(world, p, lang: str = "en", *, link: gs1.DigitalLink | None = None, proof: dict | None = None) -> str:
    return page.render_passport(p, lang=lang, public_url=PUBLIC_URL, proof=proof or proof_of(world, p),
                                link=link or p.passport.link)  # fmt: skip


@pytest.fixture(scope="module")
def item(world):
    return passport_page(world, "item")


@pytest.fixture(scope="module", params=i18n.LANGUAGES)
def lang(request):
    return request.param


# -- strings ---------------------------------------------------------------------------------


def test_both_languages_have_the_same_keys_and_placeholders():
    en, zh = i18n.MESSAGES["en"], i18n.MESSAGES["zh-CN"]
    assert set(en) == set(zh), set(en) ^ set(zh)
    for key in en:
        assert sorted(re.findall(r"\{[a-z_]+\}", en[key])) == sorted(re.findall(r"\{[a-z_]+\}", zh[key])), key
        assert zh[key].strip() and zh[key] != en[key], key


def test_the_chinese_page_uses_only_the_chinese_table(world, item):
    doc = parse(render(world, item, "zh-CN"))
    zh, en_only = fragments("zh-CN"), fragments("en") - fragments("zh-CN")
    texts = label_texts(doc)
    assert len(texts) > 60
    assert [t for t in texts if t not in zh] == []
    assert [t for t in texts if t in en_only] == []
    for el in doc.walk():
        for attr in TEXT_ATTRS:
            if el.attrs.get(attr) and el.tag != "svg" and not any(a.tag == "svg" for a in _ancestors(el)):
                assert template_match("zh-CN", el.attrs[attr]), (el.tag, attr, el.attrs[attr])
    assert template_match("zh-CN", doc.one("head").one("title").text)
    # the other language is offered by its own name, marked as that language
    switch = doc.one("nav").one("a")
    assert switch.text == "English" and switch.attrs["lang"] == switch.attrs["hreflang"] == "en"
    assert switch.attrs["href"] == f"{item.passport.link.path()}?lang=en"


def test_the_english_page_uses_only_the_english_table(world, item):
    doc = parse(render(world, item, "en"))
    assert [t for t in label_texts(doc) if t not in fragments("en")] == []
    assert doc.one("nav").one("a").text == "简体中文"


def _ancestors(el: El):
    while el.parent is not None:
        el = el.parent
        yield el


# -- structure, accessibility, no external requests ------------------------------------------


def test_the_page_has_landmarks_a_title_and_text_alternatives(world, item, lang):
    doc = parse(render(world, item, lang))
    assert doc.attrs["lang"] == lang
    head = doc.one("head")
    assert head.one("meta", charset="utf-8")
    assert "width=device-width" in head.one("meta", name="viewport").attrs["content"]
    assert item.passport.dpp.product_name in head.one("title").text
    body = doc.one("body")
    for landmark in ("header", "main", "footer", "nav"):
        assert len(body.find(landmark)) == 1, landmark
    assert body.one("nav").attrs["aria-label"]
    assert body.one("main").attrs["id"] == "main" and body.find("a")[0].attrs["href"] == "#main"  # skip link
    assert body.one("h1").text == item.passport.dpp.product_name
    ids = [e.attrs["id"] for e in doc.walk() if "id" in e.attrs]
    assert len(ids) == len(set(ids))
    sections = body.one("main").find("section")
    assert len(sections) >= 7
    for s in sections:  # every section is a region named by its own heading
        [h] = [h for h in s.find() if h.attrs.get("id") == s.attrs["aria-labelledby"]]
        assert h.tag == "h2" and h.text.strip()
    for img in body.find("img"):
        assert img.attrs.get("alt")
    [figure] = body.find("figure", **{"class": "lineage"})
    svg = figure.one("svg")
    assert svg.attrs["role"] == "img" and svg.attrs["aria-label"] and figure.one("figcaption").text.strip()
    assert figure.attrs["aria-labelledby"] == "lineage-h"


def test_the_lineage_picture_is_inlined_without_its_xml_declaration(world, item):
    html = render(world, item)
    assert item.lineage_svg and "<?xml" not in html and "<!DOCTYPE svg" not in html
    svg = parse(html).one("figure", **{"class": "lineage"}).one("svg")
    titles = " ".join(t.text for t in svg.find("title"))
    assert item.footprint.record_id in titles and item.footprint.leaf_hash in titles  # the real picture
    assert "40.500 kg CO2e" in svg.text and "2.5 kg CO2e" in svg.text  # down to the supplier's footprint


def _same_origin(value: str) -> bool:
    return (value.startswith("/") and not value.startswith("//")) or value.startswith("#") or value == "data:,"


def test_the_page_requests_nothing_from_another_origin(world, item, lang):
    html = render(world, item, lang)
    doc = parse(html)
    for el in doc.walk():
        for attr, value in el.attrs.items():
            value = value or ""
            assert attr != "style" and not attr.startswith("on"), (el.tag, attr)
            if attr in URL_ATTRS and not _same_origin(value):
                # only links to the page's own public URL (the Digital Link, canonical, alternates)
                assert el.tag in ("a", "link") and attr == "href", (el.tag, attr, value)
                assert value.startswith(PUBLIC_URL + "/"), (el.tag, value)
                assert el.tag == "a" or el.attrs["rel"] in ("canonical", "alternate")
            if "url(" in value:
                assert re.fullmatch(r"url\(#[\w-]+\)", value), value
    assert not doc.find("style") and not doc.find("iframe") and not doc.find("object")
    scripts = doc.find("script")
    assert [s.attrs.get("src") for s in scripts] == ["/static/tdsl-verify.js", None]
    assert "defer" in scripts[0].attrs and scripts[1].attrs == {"type": "application/json", "id": "tdsl-proof"}
    [css] = doc.find("link", rel="stylesheet")
    assert css.attrs["href"] == "/static/passport.css"
    assert (STATIC / "passport.css").is_file() and (STATIC / "tdsl-verify.js").is_file()


def test_the_stylesheet_loads_nothing_and_uses_system_fonts():
    css = (STATIC / "passport.css").read_text(encoding="utf-8")
    for forbidden in ("url(", "@import", "@font-face", "http:", "https:", "//fonts"):
        assert forbidden not in css, forbidden
    for family in ("system-ui", '"PingFang SC"', '"Noto Sans CJK SC"', '"Microsoft YaHei"'):
        assert family in css
    assert len(css.splitlines()) < 150


# -- what the page shows ---------------------------------------------------------------------


def test_the_page_shows_product_footprint_claims_issuer_and_downloads(world, item):
    html = render(world, item)
    doc = parse(html)
    d, fp, who, rid = item.passport.dpp, item.footprint, item.issuer, item.record.entry.record_id
    text = doc.one("main").text
    for fact in (d.product_name, "04012345000306", "PACK-0001", item.canonical_uri, "40.5", fp.record_id, fp.value,
                 fp.leaf_hash, d.conformity[0].description, d.conformity[0].topic, who.name, who.legal_id,
                 d.issuer_id, item.record.entry.author, rid, str(item.receipt.leaf_index), "Not anchored yet"):
        assert fact in text, fact
    assert "40.5 kg CO₂e per kilogram" in " ".join(doc.one("dd", **{"class": "figure"}).text.split())
    hrefs = {a.attrs["href"] for a in doc.find("a")}
    qr = "/01/04012345000306/21/PACK-0001"
    for href in (f"/v1/records/{rid}/receipt", f"/v1/passports/{rid}/vc.jwt", f"/v1/passports/{rid}/credential",
                 f"/v1/qr.svg?link={qr}", f"/v1/qr.png?link={qr}", f"{qr}?linkType=all", item.canonical_uri,
                 f"/participants/{item.record.entry.author}/did.json"):
        assert href in hrefs, href
    assert doc.one("img").attrs["src"] == f"/v1/qr.svg?link={qr}"
    assert doc.one("section", aria_labelledby="status-h").one("strong").text == "Active"
    assert not doc.find("section", **{"class": "revoked-banner"})


def test_the_registered_identity_is_shown_not_only_the_credentials_claim(world, item):
    renamed = dataclasses.replace(item, issuer=dataclasses.replace(item.issuer, name="Pack Systems AG (registered)"))
    doc = parse(render(world, renamed))
    issuer = doc.one("section", aria_labelledby="issuer-h")
    names = [b.text for b in issuer.find("bdi")]
    assert names == ["Pack Systems AG (registered)", "Pack Systems AG"]  # the register first, then the claim
    unknown = parse(render(world, dataclasses.replace(item, issuer=None))).one("section", aria_labelledby="issuer-h")
    assert "not a registered participant" in unknown.text and item.passport.dpp.issuer_id in unknown.text


def test_a_revoked_passport_shows_as_revoked_with_its_reason(world, lang):
    p = passport_page(world, "revoked")
    assert p.status == "revoked"
    t = i18n.MESSAGES[lang]
    doc = parse(render(world, p, lang))
    banner = doc.one("main").find("section")[0]  # the first thing after the heading
    assert banner.attrs["class"] == "revoked-banner" and banner.one("h2").text == t["status_revoked"]
    assert t["revoked_banner"] in banner.text
    assert [b.text for b in banner.find("bdi")] == ["cell recall <b>R-17</b> & re-test"]  # as text, not markup
    assert doc.one("head").one("title").text.startswith(t["page_title_revoked"].split("{")[0])
    assert doc.one("body").attrs["class"] == "status-revoked"
    status = doc.one("section", aria_labelledby="status-h")
    assert status.one("strong", **{"class": "badge badge-revoked"}).text == t["status_revoked"]


def test_user_data_is_escaped(world):
    p = passport_page(world, "evil")
    assert p.passport.dpp.product_name == EVIL
    p = dataclasses.replace(p, issuer=dataclasses.replace(p.issuer, name='<img src=x onerror="alert(2)">'))
    for lang in i18n.LANGUAGES:
        html = render(world, p, lang)
        assert EVIL not in html and "<img src=x" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        doc = parse(html)
        assert len(doc.find("script")) == 2 and len(doc.find("img")) == 1
        assert doc.one("h1").text == EVIL and EVIL in doc.one("head").one("title").text


def test_an_item_without_a_passport_shows_its_models_and_says_so(world):
    opened = gs1.parse_path("/01/04012345000306/21/NO-SUCH-ITEM")
    view = passport_views.current(world.ledger, opened)
    assert view.entry.record_id == world.subs["model"].envelope.id
    p = passport_views.page(world.ledger, view, PUBLIC_URL)
    doc = parse(render(world, p, link=opened))
    product = doc.one("section", aria_labelledby="product-h")
    assert f"{PUBLIC_URL}/01/04012345000306/21/NO-SUCH-ITEM" in product.text
    assert i18n.MESSAGES["en"]["requested_note"] in product.text
    assert "every item of this product model" in product.text
    assert doc.one("nav").one("a").attrs["href"] == "/01/04012345000306/21/NO-SUCH-ITEM?lang=zh-CN"
    assert doc.one("link", rel="canonical").attrs["href"] == f"{PUBLIC_URL}/01/04012345000306"


def test_the_anchor_is_shown_with_its_finality(world, item, lang):
    t = i18n.MESSAGES[lang]
    assert item.anchor is None
    assert t["anchor_none"] in parse(render(world, item, lang)).one("section", aria_labelledby="record-h").text
    for status, key in (("final", "anchor_final"), ("mined", "anchor_mined")):
        anchor = Anchor(31337, "0x" + "ab" * 20, "0x" + "cd" * 32, 4242, "0x" + "ef" * 32, status)
        p = dataclasses.replace(item, receipt=dataclasses.replace(item.receipt, anchor=anchor))
        record = parse(render(world, p, lang)).one("section", aria_labelledby="record-h")
        for fact in ("31337", "4242", "0x" + "cd" * 32, t[key]):
            assert fact in record.text
        assert t["anchor_none"] not in record.text


def test_a_serial_with_reserved_characters_survives_the_qr_links_query(item):
    link = gs1.DigitalLink(gtin="04012345000306", serial="A/B%&x", lot=None)
    p = dataclasses.replace(item, passport=dataclasses.replace(item.passport, link=link))
    for key in ("qr_svg", "qr_png"):
        path, _, query = page.links(p)[key].partition("?")
        assert path.startswith("/v1/qr.") and parse_qs(query, strict_parsing=True) == {"link": [link.path()]}
        assert gs1.parse_path(parse_qs(query)["link"][0]).serial == "A/B%&x"


# -- the verification panel ------------------------------------------------------------------


def test_the_proof_bundle_round_trips_through_the_html_escape(world, item):
    proof = copy.deepcopy(proof_of(world, item))
    proof["note"] = "</script><script>alert(1)</script><!-- & --> \u2028 </SCRIPT >"
    doc = parse(render(world, item, proof=proof))
    data = doc.one("script", id="tdsl-proof").text
    assert json.loads(data) == proof
    assert not set("<>&") & set(data)
    assert page.proof_json(proof) == data


def test_the_panel_has_the_markup_tdsl_verify_js_expects(world, item, lang):
    t = i18n.MESSAGES[lang]
    doc = parse(render(world, item, lang))
    panel = doc.one("section", id="verify")
    assert panel.attrs["data-state"] == "pending" and panel.attrs["aria-live"] == "polite"
    checks = panel.find("li")
    assert [li.attrs["data-check"] for li in checks] == ["entry", "checkpoint", "inclusion"]
    for li in checks:
        c = li.attrs["data-check"]
        assert li.attrs["data-pass"] == t[f"check_{c}_pass"] and li.attrs["data-fail"] == t[f"check_{c}_fail"]
        assert li.text == t[f"check_{c}"]  # before the script runs, or without it
    [summary] = [p for p in panel.find("p") if "data-summary" in p.attrs]
    assert (summary.attrs["data-pass"], summary.attrs["data-fail"], summary.attrs["data-unsupported"]) == (
        t["summary_pass"], t["summary_fail"], t["summary_unsupported"])  # fmt: skip
    assert panel.one("noscript").text.strip() == t["noscript"]
    rid = item.record.entry.record_id
    [receipt] = panel.find("a")
    assert receipt.attrs["href"] == f"/v1/records/{rid}/receipt" and receipt.attrs["download"] == f"receipt-{rid}.json"
    command = panel.one("code").text
    assert command.startswith(f"tdsl verify receipt-{rid}.json --origin ") and world.ledger.log.note_vkey in command
    pin = panel.one("dl", **{"class": "pin"}).text
    assert world.ledger.origin in pin and world.ledger.log.note_vkey in pin


def _as_spec(el: El) -> dict:
    return {"tag": el.tag, "attrs": {k: v or "" for k, v in el.attrs.items()},
            "text": "".join(c for c in el.children if isinstance(c, str)),
            "children": [_as_spec(c) for c in el.children if isinstance(c, El)]}  # fmt: skip


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_tdsl_verify_js_verifies_the_page_it_is_shipped_in(world, item, lang):
    t = i18n.MESSAGES[lang]
    doc = parse(render(world, item, lang))
    bundle = json.loads(doc.one("script", id="tdsl-proof").text)
    answer = node("render", panel=_as_spec(doc.one("section", id="verify")), bundle=bundle)
    panel, result = answer["out"]["panel"], answer["out"]["result"]
    assert result["ok"] is True and panel["attrs"]["data-state"] == "verified"
    [ul] = [c for c in panel["children"] if c["tag"] == "ul"]
    assert [li["text"] for li in ul["children"]] == [t[f"check_{c}_pass"] for c in ("entry", "checkpoint", "inclusion")]
    [summary] = [c for c in panel["children"] if "data-summary" in c["attrs"]]
    assert summary["text"] == t["summary_pass"]
    assert answer["markup"] == []


# -- language negotiation --------------------------------------------------------------------


@pytest.mark.parametrize("lang, accept, expected", [
    (None, None, "en"),
    (None, "", "en"),
    (None, "zh-CN,zh;q=0.9,en;q=0.8", "zh-CN"),
    (None, "zh", "zh-CN"),
    (None, "zh-Hans", "zh-CN"),
    (None, "zh-Hans-CN;q=0.5, de;q=0.9", "zh-CN"),
    (None, "en-GB,zh-CN;q=0.9", "en"),
    (None, "de-DE, en;q=0.2, zh-CN;q=0.5", "zh-CN"),
    (None, "zh-TW, zh-Hant;q=0.9", "en"),  # Traditional Chinese is not served
    (None, "zh-CN;q=0, en;q=0.1", "en"),
    (None, "fr, *;q=0.5", "en"),
    (None, "zh-CN;q=abc, en;q=0.3", "en"),  # a malformed q is not acceptable
    (None, ";;,,=", "en"),
    ("zh-CN", "en", "zh-CN"),
    ("zh-cn", None, "zh-CN"),
    ("zh", None, "zh-CN"),
    ("en", "zh-CN", "en"),
])  # fmt: skip
def test_negotiate_language(lang, accept, expected):
    assert page.negotiate_language(lang, accept) == expected


@pytest.mark.parametrize("lang", ["de", "zh-TW", "", "x" * 1000])
def test_an_unsupported_lang_parameter_is_refused_naming_the_supported_ones(lang):
    with pytest.raises(MalformedInput, match=r"expected one of en, zh-CN") as e:
        page.negotiate_language(lang, "zh-CN")
    assert len(str(e.value)) < 120


# -- the JSON --------------------------------------------------------------------------------


def test_page_json_has_the_facts_of_the_page(world, item):
    j = page.page_json(item, PUBLIC_URL)
    json.dumps(j)  # plain JSON
    assert set(j) >= {"product", "scorecard", "footprint", "issuer", "status", "anchor", "links", "versions"}
    rid = item.record.entry.record_id
    assert j["product"] == {"name": FACTS["name"], "id": item.passport.dpp.product_id,
                            "digital_link": item.canonical_uri, "gtin": "04012345000306", "serial": "PACK-0001",
                            "lot": None, "granularity": "item"}  # fmt: skip
    assert j["scorecard"] == {"carbon_footprint": "40.5", "declared_unit": "KGM"}
    assert j["footprint"]["value"] == item.footprint.value and j["footprint"]["leaf_hash"] == item.footprint.leaf_hash
    assert j["issuer"]["registered"] == {"name": item.issuer.name, "legal_id": item.issuer.legal_id,
                                         "roles": sorted(item.issuer.roles)}  # fmt: skip
    assert j["status"]["status"] == "active" and j["status"]["reason"] is None and j["anchor"] is None
    assert j["links"]["receipt"] == f"{PUBLIC_URL}/v1/records/{rid}/receipt"
    assert all(v.startswith(PUBLIC_URL + "/") for v in j["links"].values())
    assert j["versions"] == [rid]
    revoked = page.page_json(passport_page(world, "revoked"), PUBLIC_URL)["status"]
    assert revoked["status"] == "revoked" and revoked["reason"] == "cell recall <b>R-17</b> & re-test"
