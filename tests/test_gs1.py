"""GS1 GTINs and Digital Links (``ledger.gs1``), DESIGN.md section 12.

Three layers, as for the Merkle code: the public vectors of gs1/digital-link.js (read in
place from ../shared/vectors/gs1-digital-link, with the cases we refuse on purpose listed
in ``UNSUPPORTED``); the standard's ABNF (grammar 1.2), turned into regexes here by a small
converter, to check our character set, query-attribute table and canonical paths against
it; and an independent check-digit reference with Hypothesis properties.
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import replace
from pathlib import Path
from urllib.parse import quote, unquote

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ledger import gs1
from ledger.errors import MalformedInput
from ledger.gs1 import AI_CHARSET_82, DigitalLink, Level, check_digit, normalise_gtin, parse_path, parse_uri

VECTORS = Path(__file__).resolve().parents[2] / "shared" / "vectors" / "gs1-digital-link"
DATA = json.loads((VECTORS / "vectors.json").read_text())
GTIN = "09506000134352"  # GS1's own example GTIN

_NON_GTIN = "primary key other than GTIN: a passport resolver serves GTIN links only"
#: Vector URIs marked valid that we refuse on purpose: uri -> (why, what the message must say).
UNSUPPORTED = {
    "https://dlnkd.tn.gg/ARHKVAdpQg": ("compressed link: the compression algorithm is not implemented", "compressed"),
    "https://example.com/01/01234565/21/12345/10/4512": (
        "valid in the library only after setSortKeyQualifiers(true); the standard's order is 22, 10, 21, we do not reorder",
        "out of order",
    ),
    "https://example.com/grai/050606547800290002": (_NON_GTIN, "AI 8003"),
    "https://example.com/gln/0123456789128": (_NON_GTIN, "AI 414"),
    "https://example.com/sscc/012345678912345675": (_NON_GTIN, "AI 00"),
    "https://example.com/gsrn/012345678912345675": (_NON_GTIN, "AI 8018"),
    "https://example.com/gdti/012345178912345667": (_NON_GTIN, "AI 253"),
    "https://example.com/gsin/01234367891244565": (_NON_GTIN, "AI 402"),
    "https://example.com/gcn/01234567891284569": (_NON_GTIN, "AI 255"),
}


def refused(call, *args, match: str = "") -> str:
    """``call(*args)`` raises MalformedInput (whose message contains ``match``); the message."""
    with pytest.raises(MalformedInput, match=re.escape(match) if match else None) as info:
        call(*args)
    message = str(info.value)
    assert "\n" not in message
    return message


# -- the ABNF of the standard, as regexes ----------------------------------------------


def abnf_rules(text: str) -> dict[str, str]:
    """Rule name -> definition, comments removed, continuation lines joined."""
    rules: dict[str, str] = {}
    name = ""
    for line in text.splitlines():
        line = re.sub(r"(\"[^\"]*\"|'[^']*')|;.*", lambda m: m[1] or "", line)
        if not line.strip():
            continue
        m = re.match(r"([A-Za-z][\w-]*)\s*=\s*(.*)", line)
        if m:
            name, rules[m[1]] = m[1], m[2]
        else:
            rules[name] += " " + line.strip()
    return rules


_TOKEN = re.compile(
    r"\s*(?:(/)|(\d*)(?:(\*)(\d*))?(\[[^\]]*\]|%s\"[^\"]*\"|\"[^\"]*\"|'[^']*'|%x[0-9A-F]+-[0-9A-F]+|[A-Za-z][\w-]*))\s*"
)


def abnf_regex(expr: str, rules: dict[str, str]) -> str:
    """The few ABNF forms the Digital Link grammar uses for paths and query attributes:
    alternation, concatenation, ``n``/``n*m`` repetition, ``[optional]``, literals, ranges."""
    alternatives, current, pos = [], "", 0
    while pos < len(expr):
        m = _TOKEN.match(expr, pos)
        assert m and m.end() > pos, f"unsupported ABNF at {expr[pos:]!r}"
        pos = m.end()
        slash, low, star, high, element = m.groups()
        if slash:
            alternatives.append(current)
            current = ""
            continue
        if element.startswith("["):
            part = f"(?:{abnf_regex(element[1:-1], rules)})?"
        elif element.startswith("%s"):
            part = re.escape(element[3:-1])  # case-sensitive string
        elif element[0] in "\"'":
            part = f"(?i:{re.escape(element[1:-1])})"  # ABNF strings ignore case
        elif element.startswith("%x"):
            a, b = (chr(int(h, 16)) for h in element[2:].split("-"))
            part = f"[{re.escape(a)}-{re.escape(b)}]"
        else:
            part = f"(?:{abnf_regex(rules[element], rules)})"
        if star:
            part += f"{{{low or 0},{high}}}"
        elif low:
            part += f"{{{low}}}"
        current += part
    return "|".join([*alternatives, current])


RULES = abnf_rules((VECTORS / "grammar" / "GS1_Digital_Link_Grammar_1_2.abnf").read_text())
# Deviation, on purpose: the grammar writes DoubleQuote as a raw '"', which RFC 3986 does not
# allow in a URI; we percent-encode it like every other symbol (and accept it raw when parsing).
RULES["DoubleQuote"] = '"%22"'
XCHAR = re.compile(abnf_regex("XCHAR", RULES))
GTIN_PATH = re.compile(abnf_regex("gtin-path", RULES))


def grammar_attributes() -> dict[str, str]:
    """Every AI of ``queryStringParam`` (grammar 1.2) -> the regex of its (encoded) value."""
    out: dict[str, str] = {}
    for name in (n.strip() for n in RULES["queryStringParam"].split("/")):
        if name == "extensionParameter":
            continue
        definition = RULES[name]
        literal = re.fullmatch(r'"(\d+)="\s*(.*)', definition)
        if literal:
            codes, value = [literal[1]], literal[2]
        else:
            by_rule = re.fullmatch(r'([\w-]+)\s+"="\s+(.*)', definition)
            assert by_rule, definition
            codes, value = re.findall(r'"(\d+)"', RULES[by_rule[1]]), by_rule[2]
        for code in codes:  # 414 is listed twice (locNoParameter, glnParameter), alike
            regex, probes = abnf_regex(value, RULES), ["0" * n for n in range(40)]
            first = out.setdefault(code, regex)
            assert [bool(re.fullmatch(first, p)) for p in probes] == [bool(re.fullmatch(regex, p)) for p in probes], code
    return out


GRAMMAR_ATTRIBUTES = grammar_attributes()
PATH_AIS = ("01", "10")  # in the grammar's query list, refused by us: they belong in the path
QUERY_AIS = {code: value for code, value in GRAMMAR_ATTRIBUTES.items() if code not in PATH_AIS}


def test_abnf_converter_reads_the_grammar():
    assert len(GRAMMAR_ATTRIBUTES) > 150
    assert re.fullmatch(GRAMMAR_ATTRIBUTES["4321"], "1") and not re.fullmatch(GRAMMAR_ATTRIBUTES["4321"], "2")
    assert GTIN_PATH.fullmatch("/01/09506000134352/10/AB%2Fc/21/x") and not GTIN_PATH.fullmatch("/01/09506000134/21/x")


def test_character_set_82_is_the_grammars_xchar():
    from_grammar = {c for c in map(chr, range(0x20, 0x7F)) if XCHAR.fullmatch(c) or XCHAR.fullmatch(f"%{ord(c):02X}")}
    assert len(from_grammar) == 82
    assert set(AI_CHARSET_82) == from_grammar and len(AI_CHARSET_82) == 82
    assert not {"#", "$", "~", " ", "@", "[", "\\", "{", "`"} & set(AI_CHARSET_82)


def test_query_attribute_table_has_exactly_the_grammars_ais():
    ours = {
        code
        for code in ("".join(d) for n in range(1, 5) for d in itertools.product("0123456789", repeat=n))
        if any(codes.fullmatch(code) for codes, _ in gs1._ATTRIBUTE_RULES)
    }
    assert ours | set(PATH_AIS) == set(GRAMMAR_ATTRIBUTES)


def our_attribute_rule(code: str) -> re.Pattern[str]:
    return next(value for codes, value in gs1._ATTRIBUTE_RULES if codes.fullmatch(code))


#: Values at and around every length limit, of digits, letters, set-82 symbols and others.
PROBES = [c * n for c in "0Aa!%#~" for n in range(100)] + [
    "0" * k + c * n for k in (2, 3, 4, 6, 8, 13, 14) for c in "0Aa#/" for n in range(35)
]


@pytest.mark.parametrize("code", sorted(QUERY_AIS))
def test_query_attribute_format_boundaries_agree_with_the_grammar(code):
    theirs, ours = re.compile(QUERY_AIS[code]), our_attribute_rule(code)
    disagree = [p for p in PROBES if bool(theirs.fullmatch(quote(p, safe=""))) != bool(ours.fullmatch(p))]
    assert not disagree, disagree[:3]


@settings(max_examples=300)
@given(st.data())
def test_query_attribute_formats_agree_with_the_grammar(data):
    code = data.draw(st.sampled_from(sorted(QUERY_AIS)))
    theirs = re.compile(QUERY_AIS[code])
    encoded = data.draw(st.from_regex(theirs, fullmatch=True))
    assert parse_path(f"/01/{GTIN}", f"{code}={encoded}").attributes == ((code, unquote(encoded)),)
    value = data.draw(st.from_regex(our_attribute_rule(code), fullmatch=True))
    for candidate in (value, value + "0", value + "a", value + "~", value[:-1], value[1:], "x" + value[1:]):
        grammar_says = theirs.fullmatch(quote(candidate, safe="")) is not None
        try:
            parse_path(f"/01/{GTIN}", f"{code}={quote(candidate, safe='')}")
            we_say = True
        except MalformedInput:
            we_say = False
        assert we_say == grammar_says, (code, candidate)


# -- public vectors (gs1/digital-link.js) -----------------------------------------------


def test_unsupported_table_lists_only_vectors_marked_valid():
    valid = {case["uri"] for case in DATA["validation"] if case["valid"]}
    assert set(UNSUPPORTED) <= valid


@pytest.mark.parametrize("case", DATA["validation"], ids=lambda c: c["note"])
def test_validation_vector(case):
    uri = case["uri"]
    if uri in UNSUPPORTED:
        _why, says = UNSUPPORTED[uri]
        refused(parse_uri, uri, match=says)
    elif case["valid"]:
        link = parse_uri(uri)
        assert parse_path(link.path()) == replace(link, link_type=None, attributes=())
        assert GTIN_PATH.fullmatch(link.path())
    else:
        refused(parse_uri, uri)


@pytest.mark.parametrize("case", DATA["constructor_throws"], ids=lambda c: c["note"])
def test_not_a_digital_link(case):
    refused(parse_uri, case["input"])


@pytest.mark.parametrize("case", DATA["parse"], ids=lambda c: c["uri"])
def test_parse_vector(case):
    link = parse_uri(case["uri"])
    assert link.gtin == case["identifier"]["01"].zfill(14)
    assert (link.lot, link.serial) == (case["keyQualifiers"].get("10"), case["keyQualifiers"].get("21"))
    assert link.link_type == case["linkType"]
    ais = {k: v for k, v in case.get("attributes", {}).items() if k.isdigit()}  # custom ones are ignored
    assert dict(link.attributes) == ais and len(link.attributes) == len(ais)


def test_compression_vectors():
    compressed = [c["output"] if c["op"] == "compress" else c["input"] for c in DATA["compression"]]
    plain = [c["input"] if c["op"] == "compress" else c["output"] for c in DATA["compression"]]
    compressed += [c["uri"] for c in DATA["is_compressed"] if c["compressed"]]
    plain += [c["uri"] for c in DATA["is_compressed"] if not c["compressed"]]
    for uri in compressed:
        refused(parse_uri, uri, match="compressed GS1 Digital Link URIs are not supported")
    by_link: dict[str, set[DigitalLink]] = {}
    for case in DATA["compression"]:
        short, long = (case["output"], case["input"]) if case["op"] == "compress" else (case["input"], case["output"])
        by_link.setdefault(short.split("?")[0], set()).add(parse_uri(long))
    for uri in plain:
        assert parse_uri(uri).gtin == "09780345418913"
    # the numeric and short-name forms, GTIN-13 and GTIN-14, of one compressed link agree
    assert len(by_link["https://dlnkd.tn.gg/HxHKVAdpQgZzjr-hCDKigI"]) == 1


@pytest.mark.parametrize("case", DATA["check_digit"], ids=lambda c: c["value"])
def test_check_digit_vector(case):
    at = len(case["value"]) if case["position"] == -1 else case["position"]
    value = case["value"]
    assert (check_digit(value[: at - 1]) == int(value[at - 1])) is case["valid"]


@pytest.mark.parametrize("case", DATA["rules"], ids=lambda c: f"{c['rule']}:{c['value']}")
def test_grammar_rule_vector(case):
    rule, value = case["rule"], case["value"]
    accept = {
        "gtin": lambda: normalise_gtin(value),
        "ser": lambda: DigitalLink(GTIN, serial=value),
        "cpv": lambda: DigitalLink(GTIN, cpv=value),
        "extensionParameter": lambda: parse_path(f"/01/{GTIN}", value),
    }[rule]
    if case["valid"]:
        result = accept()
        assert rule != "extensionParameter" or result.attributes == ()  # custom: kept out
    else:
        refused(accept)


# -- check digits and GTINs ---------------------------------------------------------------


def reference_check_digit(digits: str) -> int:
    """Independent of ``gs1``: walk from the right, weights alternating 3 and 1."""
    total, weight = 0, 3
    for digit in reversed(digits):
        total += int(digit) * weight
        weight = 4 - weight
    return (10 - total % 10) % 10


@given(st.text("0123456789", min_size=1, max_size=40))
@example("629104150021")  # GS1's worked example: check digit 3
def test_check_digit_matches_reference(digits):
    assert check_digit(digits) == reference_check_digit(digits)


def test_check_digit_worked_examples():
    assert (check_digit("629104150021"), check_digit(GTIN[:-1]), check_digit("0")) == (3, 2, 0)
    refused(check_digit, "", match="ASCII digits")
    refused(check_digit, "12a", match="ASCII digits")


@given(st.sampled_from([7, 11, 12, 13]).flatmap(lambda n: st.text("0123456789", min_size=n, max_size=n)), st.integers(1, 9))
def test_normalise_gtin(body, shift):
    good = body + str(reference_check_digit(body))
    assert normalise_gtin(good) == good.zfill(14) and len(normalise_gtin(good)) == 14
    wrong = (reference_check_digit(body) + shift) % 10
    message = refused(normalise_gtin, body + str(wrong), match="check digit")
    assert f"expected {reference_check_digit(body)}, found {wrong}" in message


@pytest.mark.parametrize(
    ("given_gtin", "gtin14"),
    [("01234565", "00000001234565"), ("012345678905", "00012345678905"), ("9780345418913", "09780345418913"), (GTIN, GTIN)],
)
def test_short_gtins_redirect_to_gtin14(given_gtin, gtin14):
    link = parse_path(f"/01/{given_gtin}/21/ABC123")
    assert (link.gtin, link.serial, link.path()) == (gtin14, "ABC123", f"/01/{gtin14}/21/ABC123")
    assert link.needs_redirect is (given_gtin != gtin14)


@pytest.mark.parametrize("text", ["", "1234567", "123456789", "12345678901", "123456789012345", "0950600013435\n",
                                  " 09506000134352", "0950600013435\u0662", "\uff10" * 14, "0950600013435a"])  # fmt: skip
def test_bad_gtins_refused(text):
    refused(normalise_gtin, text, match="GTIN")
    refused(parse_path, f"/01/{quote(text)}", match="GTIN")


# -- path grammar -----------------------------------------------------------------------

GTINS = st.text("0123456789", min_size=13, max_size=13).map(lambda d: d + str(reference_check_digit(d)))
VALUES = st.text(alphabet=AI_CHARSET_82, min_size=1, max_size=20)
ATTRIBUTES = st.lists(st.sampled_from(sorted(QUERY_AIS)), unique=True, max_size=3).flatmap(
    lambda codes: st.tuples(*(st.tuples(st.just(c), st.from_regex(QUERY_AIS[c], fullmatch=True).map(unquote)) for c in codes))
)
LINKS = st.builds(
    DigitalLink,
    GTINS,
    serial=st.none() | VALUES,
    lot=st.none() | VALUES,
    cpv=st.none() | VALUES,
    link_type=st.none() | st.from_regex(r"[!-~]{1,40}", fullmatch=True),
    attributes=ATTRIBUTES,
)


@given(LINKS)
@example(DigitalLink(GTIN, serial='A/B%C?D"E', lot="!&'()*+,:;<=>", cpv="-._", link_type="gs1:pip"))
def test_round_trip(link):
    path = link.path()
    assert GTIN_PATH.fullmatch(path), path  # what the standard's grammar asks for
    assert re.fullmatch(r"(/[0-9]{2}/(?:[A-Za-z0-9._-]|%[0-9A-F]{2})+)+", path)
    assert path.count("/") == 2 * (1 + sum(v is not None for v in (link.serial, link.lot, link.cpv)))
    parsed = parse_path(path)
    assert parsed == replace(link, link_type=None, attributes=()) and parsed.needs_redirect is False
    again = parse_uri(link.uri("https://id.example.com/dl/"))
    assert again == link and again.attributes == link.attributes and again.needs_redirect is False


def test_percent_encoding_of_set_82():
    link = DigitalLink(GTIN, serial='A/B%C?D"E')
    assert link.path() == f"/01/{GTIN}/21/A%2FB%25C%3FD%22E"
    assert link.uri("https://id.example.com") == f"https://id.example.com/01/{GTIN}/21/A%2FB%25C%3FD%22E"


@given(st.from_regex(GTIN_PATH, fullmatch=True))
def test_every_path_of_the_grammar_parses_or_fails_on_its_check_digit(path):
    try:
        link = parse_path(path)
    except MalformedInput as e:
        assert "check digit" in str(e)
    else:
        assert GTIN_PATH.fullmatch(link.path())


@pytest.mark.parametrize("char", [" ", "~", "#", "$", "@", "[", "{", "`", "\\", "\n", "\x00", "\x7f", "é", "\u0661"])
def test_characters_outside_set_82_refused(char):
    refused(parse_path, f"/01/{GTIN}/21/{quote(char, safe='')}")
    refused(lambda: DigitalLink(GTIN, serial=f"A{char}"), match="serial (AI 21)")
    refused(lambda: DigitalLink(GTIN, lot=char), match="lot (AI 10)")
    refused(parse_path, f"/01/{GTIN}/10/A{char}")


def test_lengths_and_empty_values():
    assert parse_path(f"/01/{GTIN}/21/{'9' * 20}").serial == "9" * 20
    assert parse_path(f"/01/{GTIN}/10/{'%2F' * 20}").lot == "/" * 20
    refused(parse_path, f"/01/{GTIN}/21/{'9' * 21}", match="21 characters")
    refused(parse_path, f"/01/{GTIN}/10//21/S", match="lot (AI 10) is empty")
    refused(parse_path, f"/01/{GTIN}/21//", match="serial (AI 21) is empty")
    refused(parse_path, f"/01/{GTIN}/21", match="is a value missing")
    refused(parse_path, "/01//21/S", match="GTIN (AI 01) is empty")


@pytest.mark.parametrize("raw", ["%", "%2", "%G0", "A%2", "%%41"])
def test_bad_percent_encoding_refused(raw):
    refused(parse_path, f"/01/{GTIN}/21/{raw}", match="two hex digits")


def test_key_qualifier_order():
    values = {"22": "C", "10": "L", "21": "S"}
    for n in range(1, 4):
        for ais in itertools.permutations(values, n):
            path = f"/01/{GTIN}" + "".join(f"/{ai}/{values[ai]}" for ai in ais)
            if list(ais) == sorted(ais, key=["22", "10", "21"].index):
                link = parse_path(path)
                assert (link.cpv, link.lot, link.serial) == tuple(values[a] if a in ais else None for a in values)
            else:
                refused(parse_path, path, match="out of order")
    refused(parse_path, f"/01/{GTIN}/21/A/21/B", match="AI 21 repeated")
    refused(parse_path, f"/01/{GTIN}/10/A/lot/B", match="AI 10 repeated")


@pytest.mark.parametrize("ai", ["99", "235", "7040", "8011", "254", "17", "foo", "SER"])
def test_unknown_or_unsupported_path_ai_named(ai):
    message = refused(parse_path, f"/01/{GTIN}/{ai}/x", match="not a key qualifier of a GTIN")
    assert ai in message


@pytest.mark.parametrize(("key", "ai"), [("00", "00"), ("sscc", "00"), ("414", "414"), ("gln", "414"), ("8006", "8006")])
def test_other_primary_keys_refused(key, ai):
    refused(parse_path, f"/{key}/123456789012345678", match=f"only GTIN-based links (AI 01) are resolved, got primary key AI {ai}")


@pytest.mark.parametrize(
    ("path", "canonical", "redirect"),
    [
        (f"/01/{GTIN}/21/A%21", f"/01/{GTIN}/21/A%21", False),
        (f"/some/custom/stem/01/{GTIN}/21/A", f"/01/{GTIN}/21/A", False),  # a stem is not redirected
        (f"/01/{GTIN}/21/A!", f"/01/{GTIN}/21/A%21", True),
        (f"/01/{GTIN}/21/A%2f", f"/01/{GTIN}/21/A%2F", True),
        (f"/01/{GTIN}/21/%41", f"/01/{GTIN}/21/A", True),
        (f"/01/{GTIN}/", f"/01/{GTIN}", True),
        (f"/gtin/{GTIN}/cpv/V/lot/L/ser/S", f"/01/{GTIN}/22/V/10/L/21/S", True),
        (f"/01/{GTIN[1:]}/ser/S", f"/01/{GTIN}/21/S", True),
    ],
)
def test_needs_redirect(path, canonical, redirect):
    link = parse_path(path)
    assert link.path() == canonical and link.needs_redirect is redirect
    assert parse_path(canonical).needs_redirect is False


def test_levels():
    assert parse_path(f"/01/{GTIN}/21/S").level is Level.ITEM == "item"
    assert parse_path(f"/01/{GTIN}/10/L/21/S").level is Level.ITEM
    assert parse_path(f"/01/{GTIN}/10/L").level is Level.BATCH == "batch"
    assert parse_path(f"/01/{GTIN}").level is Level.MODEL == "model"
    assert parse_path(f"/01/{GTIN}/22/V").level is Level.MODEL


# -- query strings and URIs ---------------------------------------------------------------


def test_query_attributes_and_link_type():
    link = parse_path(f"/01/{GTIN}", "15=230911;exp=240101&thngId=x&linkType=gs1%3Apip&240=A%2FB&custom")
    assert link.attributes == (("15", "230911"), ("17", "240101"), ("240", "A/B"))
    assert link.link_type == "gs1:pip"
    assert parse_path(f"/01/{GTIN}", "240=a+b").attributes == (("240", "a+b"),)  # '+' is a plus sign


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("4321=2", "AI 4321"),
        ("0105=abc", "unknown GS1 application identifier 0105"),
        ("21=S", "AI 21 may not be a query attribute"),
        ("10=L", "AI 10 may not be a query attribute"),
        ("01=09506000134352", "AI 01 may not be a query attribute"),
        ("15=230911&15=230912", "AI 15 repeated"),
        ("15", "AI 15 in the query string has no value"),
        ("linkType=a&linkType=b", "linkType repeated"),
        ("linkType=", "linkType"),
        ("linkType=a%20b", "linkType"),
        ("240=%7E", "AI 240"),
        ("240=%ZZ", "two hex digits"),
        ("x=1#frag", "'#'"),
        ("x=\n", "printable ASCII"),
    ],
)
def test_bad_query_refused(query, says):
    refused(parse_path, f"/01/{GTIN}", query, match=says)


def test_constructor_checks_its_fields():
    refused(lambda: DigitalLink("9506000134352"), match="GTIN-14")
    refused(lambda: DigitalLink("09506000134353"), match="check digit")
    refused(lambda: DigitalLink(GTIN, cpv="x" * 21), match="CPV (AI 22)")
    refused(lambda: DigitalLink(GTIN, link_type="a b"), match="linkType")
    refused(lambda: DigitalLink(GTIN, attributes=(("4321", "2"),)), match="AI 4321")
    refused(lambda: DigitalLink(GTIN, attributes=(("exp", "240101"),)), match="unknown")
    parsed = parse_path(f"/01/{GTIN[1:]}/21/S")
    assert parsed.needs_redirect and parsed == DigitalLink(GTIN, serial="S")  # needs_redirect is not compared


@pytest.mark.parametrize(
    "uri",
    [
        f"ftp://id.example.com/01/{GTIN}",
        f"https://user@id.example.com/01/{GTIN}",
        f"https://id.example.com/01/{GTIN}#x",
        f"https://id.example.com/01/{GTIN}\n",
        f"https://id.example.com/01/{GTIN}/21/a b",
        f"https:///01/{GTIN}",
        f"https://id.example.com/01/{GTIN}?linkType=x\n",
    ],
)
def test_bad_uris_refused(uri):
    refused(parse_uri, uri)


def test_uri_forms():
    assert parse_uri(f"HTTPS://id.example.com:8443/01/{GTIN}/21/S?linkType=gs1:pip").serial == "S"
    assert DigitalLink(GTIN, lot="L", link_type="gs1:pip").uri("https://r.example/dl") == f"https://r.example/dl/01/{GTIN}/10/L?linkType=gs1:pip"
    for base in ("https://r.example?x=1", "https://r.example/#x", "ftp://r.example", "https://", "https://r.example/a b"):
        refused(DigitalLink(GTIN).uri, base, match="base URL")
