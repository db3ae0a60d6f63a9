"""GS1 identifiers for product passports: GTIN check digits and GS1 Digital Link paths.

Pure functions and one typed value, no I/O. The resolver (DESIGN.md section 12) parses a
request with ``parse_path`` and ``tdsl verify`` parses a printed link with ``parse_uri``;
both give a ``DigitalLink`` whose ``path()`` is the one canonical form.

What is served, and what is refused (``MalformedInput``, the message names the culprit):

- Only GTIN links (primary key AI 01, short name ``gtin``): ``/01/<GTIN>[/22/<cpv>][/10/<lot>]
  [/21/<serial>]``, key qualifiers in the standard's order 22, 10, 21, each at most once. A
  passport resolver has nothing to say about an SSCC, GLN, GRAI and the other keys, so they
  are refused by name, as are AI 235 (the ``upui`` path) and every other path AI.
- A custom path stem before the primary key is allowed, as the standard allows; the path is
  read from the right in ``/<AI>/<value>`` pairs until the primary key, so a stem is never
  mistaken for a value.
- A GTIN-8, -12 or -13 is accepted and held as its GTIN-14. ``needs_redirect`` says the
  request was not byte-for-byte the canonical ``path()`` (short GTIN, short names such as
  ``ser``, a trailing ``/``, percent-encoding other than ours) so the resolver answers 301.
  A custom stem does not count: it may be the resolver's own mount point.
- Values are percent-decoded once, strictly (every ``%`` starts ``%XX``), then must be 1-20
  characters of GS1 AI encodable character set 82 (``XCHAR`` in the grammar). ``#``, ``$``,
  ``~``, space and anything outside ASCII are not in that set, encoded or not.
- Query parameters (separated by ``&`` or ``;``): a numeric key must be a GS1 data attribute
  of the grammar's ``queryStringParam`` and its value must match that AI's format (``4321=2``
  is refused: AI 4321 is a boolean); they are kept in ``attributes``. AI 10, 21 and 22 belong
  in the path and AI 01 is the primary key, so none may appear in the query. ``linkType`` is
  kept; every other parameter is a custom attribute the standard allows, and is ignored. Query
  values are decoded like path values (``+`` is a plus sign, not a space).
- Compressed Digital Link URIs (``https://id.example/ARHKVAdpQg``) are NOT supported: this
  module does not implement the compression algorithm and says so instead of guessing.

The canonical form percent-encodes every character of a value except ``A-Z a-z 0-9 - . _``
(uppercase hex): what the grammar (version 1.2) asks for, except that ``"`` becomes ``%22``
(the grammar writes it raw, which RFC 3986 does not allow), and RFC 3986's normal form, so no
client or server normalisation turns a canonical link back into a redirected one.
"""

from __future__ import annotations

import re
from dataclasses import KW_ONLY, dataclass, field, replace
from enum import StrEnum
from urllib.parse import quote

from ledger.errors import MalformedInput

__all__ = ["AI_CHARSET_82", "DigitalLink", "Level", "check_digit", "normalise_gtin", "parse_path", "parse_uri"]

#: GS1 AI encodable character set 82 (GS1 General Specifications 7.11, ``XCHAR``).
AI_CHARSET_82 = "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
_X = r"[!\"%&'()*+,\-./0-9:;<=>?A-Z_a-z]"  # set 82 as a regex class
_Y = r"[#\-/0-9A-Z]"  # set 39 (only AI 8010, CPID)

#: Key qualifiers of AI 01 in the standard's order, with their grammar short names.
_QUALIFIERS = {"22": "CPV", "10": "lot", "21": "serial"}
_NAMES = {"gtin": "01", "cpv": "22", "lot": "10", "ser": "21"}
#: The other primary keys (AI, short name), refused by name.
_OTHER_KEYS = {
    "00": "sscc", "253": "gdti", "255": "gcn", "401": "ginc", "402": "gsin", "414": "gln", "417": "party",
    "8003": "grai", "8004": "giai", "8006": "itip", "8010": "cpid", "8013": "gmn", "8017": "gsrnp", "8018": "gsrn",
}  # fmt: skip
_OTHER_NAMES = {name: ai for ai, name in _OTHER_KEYS.items()}

#: Data attributes of the query string, exactly those of ``queryStringParam`` in the Digital
#: Link grammar 1.2 (which leaves out AI 415 and 714): (AIs as a regex, value format).
#: The tests check both against the grammar.
_ATTRIBUTES: tuple[tuple[str, str], ...] = (
    (r"3(?:1[0-6]|2[0-9]|3[0-7]|4[0-9]|5[0-7]|6[0-9])[0-5]|395[0-3]|1[1-35-7]|242|4326|7006|8005", "[0-9]{6}"),
    (r"02|8001", "[0-9]{14}"),
    (r"00|8006|8017|8018|8026", "[0-9]{18}"),
    (r"41[0-46-7]|7001", "[0-9]{13}"),
    (r"402", "[0-9]{17}"),
    (r"255", "[0-9]{14,25}"),
    (r"7007", "[0-9]{6,12}"),
    (r"20", "[0-9]{2}"),
    (r"30|37", "[0-9]{1,8}"),
    (r"90|241|250|251|400|403", "[0-9]{1,30}"),
    (r"243", "[0-9]{1,20}"),
    (r"39[02][0-5]", "[0-9]{1,15}"),
    (r"39[13][0-5]", "[0-9]{4,18}"),
    (r"394[0-5]|8111", "[0-9]{4}"),
    (r"42[246]", "[0-9]{3}"),
    (r"42[35]", "[0-9]{4,15}"),
    (r"432[1-3]", "[01]"),
    (r"432[45]|7003", "[0-9]{10}"),
    (r"7004", "[0-9]{1,4}"),
    (r"8008", "[0-9]{9,12}"),
    (r"240|401|4308|4319|7002|7023|8004|8013", _X + "{1,30}"),
    (r"420|4318|71[0-3]|702[0-2]|8002", _X + "{1,20}"),
    (r"4300|4301|4310|4311|4320", _X + "{1,35}"),
    (r"430[2-6]|431[2-6]|8110|8112", _X + "{1,70}"),
    (r"4307|4317", _X + "{2}"),
    (r"427|7008", _X + "{1,3}"),
    (r"7005", _X + "{1,12}"),
    (r"7009", _X + "{1,10}"),
    (r"7010", _X + "{1,2}"),
    (r"8007", _X + "{1,34}"),
    (r"8009", _X + "{1,50}"),
    (r"8020", _X + "{1,25}"),
    (r"9[1-9]", _X + "{1,90}"),
    (r"723[0-9]", _X + "{2,30}"),
    (r"421", "[0-9]{3}" + _X + "{1,9}"),
    (r"703[0-9]", "[0-9]{3}" + _X + "{1,27}"),
    (r"8012", "[0-9]{4}" + _X + "{1,20}"),
    (r"253", "[0-9]{13}" + _X + "{1,17}"),
    (r"8003", "[0-9]{14}" + _X + "{1,16}"),
    (r"8010", _Y + "{1,30}"),
)
_ATTRIBUTE_RULES = tuple((re.compile(codes), re.compile(value)) for codes, value in _ATTRIBUTES)
_ATTRIBUTE_NAMES = {"exp": "17", "expdt": "7003"}

_DIGITS = re.compile(r"[0-9]+")
_VALUE = re.compile(_X + "+")
_PCT = re.compile(r"%([0-9A-Fa-f]{2})")
_RAW_PATH = re.compile(r'[!-"$->@-~]*')  # printable ASCII except '#' and '?'
_RAW_QUERY = re.compile(r'[!-"$-~]*')  # printable ASCII except '#'
_LINK_TYPE = re.compile(r"[!-~]{1,255}")
_COMPRESSED = re.compile(r"[A-Za-z0-9_-]{10,}")
_URI = re.compile(r"(?i:https?)://([^/?#@]+)([^?#]*)(?:\?([^#]*))?")
_BASE_URL = re.compile(r'(?i:https?)://[!-"$-.0->@-~]+(?:/[!-"$->@-~]*)?')


class Level(StrEnum):
    """What a link identifies: one item (serial), a batch (lot, no serial), a model (GTIN,
    with or without a CPV: a consumer product variant is still a model)."""

    ITEM = "item"
    BATCH = "batch"
    MODEL = "model"


def _show(text: str) -> str:
    """``text`` quoted for a one-line message, escaped to ASCII and cut at 40 characters."""
    return ascii(text if len(text) <= 40 else text[:40] + "...")


def check_digit(digits: str) -> int:
    """The GS1 mod-10 check digit for ``digits``, the digits before it (any GS1 key length):
    weights 3, 1, 3, ... from the rightmost digit, then what brings the sum to a multiple of 10."""
    if not _DIGITS.fullmatch(digits):
        raise MalformedInput(f"check digit: expected ASCII digits, got {_show(digits)}")
    backwards = digits[::-1]
    total = 3 * sum(map(int, backwards[0::2])) + sum(map(int, backwards[1::2]))
    return -total % 10


def normalise_gtin(text: str) -> str:
    """A GTIN-8, -12, -13 or -14 as its GTIN-14 (left-padded with zeros, which keeps its
    check digit). Refuses an empty value, non-digits, other lengths and a wrong check digit."""
    if not text:
        raise MalformedInput("GTIN (AI 01) is empty")
    if not _DIGITS.fullmatch(text):
        raise MalformedInput(f"GTIN (AI 01) must be ASCII digits only, got {_show(text)}")
    if len(text) not in (8, 12, 13, 14):
        raise MalformedInput(f"GTIN (AI 01) must have 8, 12, 13 or 14 digits, got {len(text)}: {_show(text)}")
    expected = check_digit(text[:-1])
    if int(text[-1]) != expected:
        raise MalformedInput(f"GTIN {text}: bad check digit, expected {expected}, found {text[-1]}")
    return text.zfill(14)


def _check_value(value: str, what: str) -> None:
    """A key qualifier's value: 1-20 characters of set 82."""
    if not value:
        raise MalformedInput(f"{what} is empty")
    if not _VALUE.fullmatch(value):
        bad = next(c for c in value if c not in AI_CHARSET_82)
        raise MalformedInput(f"{what} has {ascii(bad)}, outside GS1 AI encodable character set 82: {_show(value)}")
    if len(value) > 20:
        raise MalformedInput(f"{what} has {len(value)} characters, at most 20 allowed: {_show(value)}")


def _check_attribute(ai: str, value: str) -> None:
    if ai in ("01", "10", "21", "22"):
        raise MalformedInput(f"AI {ai} may not be a query attribute: it belongs in the path (/01/<GTIN>/22/../10/../21/..)")
    rule = next((value_re for codes, value_re in _ATTRIBUTE_RULES if codes.fullmatch(ai)), None)
    if rule is None:
        raise MalformedInput(f"unknown GS1 application identifier {ai} in the query string")
    if not rule.fullmatch(value):
        raise MalformedInput(f"AI {ai} in the query string: {_show(value)} does not match its format {rule.pattern}")


@dataclass(frozen=True)
class DigitalLink:
    """A GS1 Digital Link for a GTIN, checked on construction.

    ``attributes`` are the query string's GS1 data attributes (numeric AI, decoded value) in
    the order given. ``needs_redirect`` is set by the parsers (see the module docstring) and
    takes no part in equality: two links are equal when they identify the same thing.
    """

    gtin: str  #: GTIN-14, check digit verified (``normalise_gtin`` makes one)
    _: KW_ONLY
    serial: str | None = None  #: AI 21
    lot: str | None = None  #: AI 10
    cpv: str | None = None  #: AI 22, consumer product variant
    link_type: str | None = None  #: the ``linkType`` query parameter, e.g. ``gs1:pip``
    attributes: tuple[tuple[str, str], ...] = ()
    needs_redirect: bool = field(default=False, compare=False)

    def __post_init__(self) -> None:
        if normalise_gtin(self.gtin) != self.gtin:
            raise MalformedInput(f"DigitalLink.gtin must be a GTIN-14 (see normalise_gtin), got {_show(self.gtin)}")
        for ai, value in (("22", self.cpv), ("10", self.lot), ("21", self.serial)):
            if value is not None:
                _check_value(value, f"{_QUALIFIERS[ai]} (AI {ai})")
        if self.link_type is not None and not _LINK_TYPE.fullmatch(self.link_type):
            raise MalformedInput(f"linkType must be 1-255 printable ASCII characters, got {_show(self.link_type)}")
        seen: set[str] = set()
        for ai, value in self.attributes:
            if ai in seen:
                raise MalformedInput(f"AI {ai} repeated in the query string")
            seen.add(ai)
            _check_attribute(ai, value)

    @property
    def level(self) -> Level:
        """ITEM with a serial, else BATCH with a lot, else MODEL."""
        return Level.ITEM if self.serial is not None else Level.BATCH if self.lot is not None else Level.MODEL

    def path(self) -> str:
        """The canonical path: ``/01/<GTIN-14>[/22/<cpv>][/10/<lot>][/21/<serial>]``."""
        parts = [("01", self.gtin), ("22", self.cpv), ("10", self.lot), ("21", self.serial)]
        return "".join(f"/{ai}/{quote(value, safe='')}" for ai, value in parts if value is not None)

    def uri(self, base_url: str) -> str:
        """``base_url`` (``https://host[/mount]``) + ``path()`` + the attributes and linkType as
        a query string: ``parse_uri(link.uri(base))`` gives ``link`` back."""
        if not _BASE_URL.fullmatch(base_url):
            raise MalformedInput(f"base URL must be http(s)://host[/path] without query or fragment, got {_show(base_url)}")
        query = [f"{ai}={quote(value, safe='')}" for ai, value in self.attributes]
        if self.link_type is not None:
            query.append(f"linkType={quote(self.link_type, safe=':/')}")
        return base_url.rstrip("/") + self.path() + ("?" + "&".join(query) if query else "")


def _decode(raw: str, what: str) -> str:
    """Percent-decode once; each escape becomes one character (a byte above 0x7F is then
    refused as outside set 82, so no UTF-8 decoding is needed)."""
    if "%" in _PCT.sub("", raw):
        raise MalformedInput(f"{what}: '%' not followed by two hex digits in {_show(raw)}")
    return _PCT.sub(lambda m: chr(int(m[1], 16)), raw)


def parse_path(path: str, query: str = "") -> DigitalLink:
    """A resolver request: ``path`` as received, still percent-encoded (in ASGI, ``raw_path``:
    a decoded path cannot tell ``%2F`` in a serial from ``/``), ``query`` without the ``?``."""
    if not path.startswith("/") or not _RAW_PATH.fullmatch(path):
        raise MalformedInput(f"path must start with '/' and hold printable ASCII without '?' or '#', got {_show(path)}")
    if not _RAW_QUERY.fullmatch(query):
        raise MalformedInput(f"query string must be printable ASCII without '#', got {_show(query)}")
    segments = path[1:].split("/")
    trailing_slash = len(segments) > 1 and segments[-1] == ""  # the same link, redirected
    decoded = [_decode(s, "path") for s in (segments[:-1] if trailing_slash else segments)]
    start = len(decoded) - 2
    while start >= 0 and _NAMES.get(decoded[start], decoded[start]) != "01":
        ai = _OTHER_NAMES.get(decoded[start], decoded[start])
        if ai in _OTHER_KEYS:
            raise MalformedInput(f"only GTIN-based links (AI 01) are resolved, got primary key AI {ai} ({_OTHER_KEYS[ai]})")
        start -= 2
    if start < 0:
        if _COMPRESSED.fullmatch(decoded[-1]):
            raise MalformedInput(f"compressed GS1 Digital Link URIs are not supported, got {_show(path)}")
        if any(_NAMES.get(s, s) == "01" for s in decoded):
            raise MalformedInput(f"path after /01/<GTIN> must be /<AI>/<value> pairs (is a value missing?): {_show(path)}")
        raise MalformedInput(f"no GS1 primary key /01/<GTIN> in the path {_show(path)}")
    gtin = normalise_gtin(decoded[start + 1])
    values: dict[str, str] = {}
    last = -1
    for i in range(start + 2, len(decoded), 2):
        ai = _NAMES.get(decoded[i], decoded[i])
        if ai not in _QUALIFIERS:
            name = ai if _DIGITS.fullmatch(ai) else _show(ai)
            raise MalformedInput(f"AI {name} is not a key qualifier of a GTIN: expected AI 22, 10 or 21")
        order = list(_QUALIFIERS).index(ai)
        if ai in values:
            raise MalformedInput(f"key qualifier AI {ai} repeated")
        if order < last:
            raise MalformedInput(f"key qualifier AI {ai} out of order: after /01/<GTIN> the order is 22, 10, 21")
        values[ai], last = decoded[i + 1], order
    attributes, link_type = _parse_query(query)
    link = DigitalLink(
        gtin,
        cpv=values.get("22"), lot=values.get("10"), serial=values.get("21"),
        link_type=link_type, attributes=attributes,
    )  # fmt: skip
    canonical = "/" + "/".join(segments[start:]) == link.path()  # with the trailing "" if any
    return link if canonical else replace(link, needs_redirect=True)


def _parse_query(query: str) -> tuple[tuple[tuple[str, str], ...], str | None]:
    """The GS1 data attributes and the linkType of a query string (custom ones ignored)."""
    attributes: list[tuple[str, str]] = []
    link_type: str | None = None
    for param in re.split(r"[&;]", query) if query else ():
        key, has_value, raw = param.partition("=")
        ai = _ATTRIBUTE_NAMES.get(key, key)
        if key == "linkType":
            if link_type is not None:
                raise MalformedInput("linkType repeated in the query string")
            link_type = _decode(raw, "linkType")
        elif _DIGITS.fullmatch(ai):
            if not has_value or not raw:
                raise MalformedInput(f"AI {ai} in the query string has no value")
            attributes.append((ai, _decode(raw, f"AI {ai}")))
    return tuple(attributes), link_type


def parse_uri(uri: str) -> DigitalLink:
    """A full ``http(s)://host[/stem]/01/...[?query]`` GS1 Digital Link URI, as printed in a QR
    code (scheme case ignored). Refused besides what ``parse_path`` refuses: another scheme, a
    fragment or userinfo (a Digital Link has neither), anything outside printable ASCII."""
    m = _URI.fullmatch(uri) if _RAW_QUERY.fullmatch(uri) else None
    if m is None:
        raise MalformedInput(f"expected an http(s) URI of printable ASCII, no userinfo or fragment, got {_show(uri)}")
    _host, path, query = m.groups()
    return parse_path(path or "/", query or "")
