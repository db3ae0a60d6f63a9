"""ledger.canonical: RFC 8785 known answers, every parse_json rejection, round trips."""

from __future__ import annotations

import json
import os
import math
import struct

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.canonical import (
    MAX_DEPTH,
    MAX_NUMBER_LENGTH,
    MAX_SAFE_INTEGER,
    canonicalize,
    parse_json,
)
from ledger.errors import MalformedInput, MalformedJSON

# -- RFC 8785 known answers -----------------------------------------------------------

# RFC 8785 §3.2.2 / §3.2.4: the input text and its canonical form.
RFC8785_INPUT = (
    '{\n  "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],\n'
    '  "string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/",\n'
    '  "literals": [null, true, false]\n}'
)
RFC8785_OUTPUT = (
    '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
    '"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
).encode("utf-8")


def test_rfc8785_section_3_2_2_example():
    assert canonicalize(parse_json(RFC8785_INPUT)) == RFC8785_OUTPUT


def test_rfc8785_section_3_2_3_sorting_by_utf16_code_units():
    value = {
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\U0001f600": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis",
    }
    expected = (
        '{"\\r":"Carriage Return","1":"One","\u0080":"Control",'
        '"\u00f6":"Latin Small Letter O With Diaeresis","\u20ac":"Euro Sign",'
        '"\U0001f600":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}'
    ).encode("utf-8")
    assert canonicalize(value) == expected


# RFC 8785 Appendix B: IEEE 754 bit patterns and their JSON numbers.
APPENDIX_B = [
    ("0000000000000000", "0"),
    ("8000000000000000", "0"),
    ("0000000000000001", "5e-324"),
    ("8000000000000001", "-5e-324"),
    ("7fefffffffffffff", "1.7976931348623157e+308"),
    ("ffefffffffffffff", "-1.7976931348623157e+308"),
    ("4340000000000000", "9007199254740992"),
    ("c340000000000000", "-9007199254740992"),
    ("4430000000000000", "295147905179352830000"),
    ("44b52d02c7e14af5", "9.999999999999997e+22"),
    ("44b52d02c7e14af6", "1e+23"),
    ("44b52d02c7e14af7", "1.0000000000000001e+23"),
    ("444b1ae4d6e2ef4e", "999999999999999700000"),
    ("444b1ae4d6e2ef4f", "999999999999999900000"),
    ("444b1ae4d6e2ef50", "1e+21"),
    ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"),
    ("3eb0c6f7a0b5ed8d", "0.000001"),
    ("41b3de4355555553", "333333333.3333332"),
    ("41b3de4355555554", "333333333.33333325"),
    ("41b3de4355555555", "333333333.3333333"),
    ("41b3de4355555556", "333333333.3333334"),
    ("41b3de4355555557", "333333333.33333343"),
    ("becbf647612f3696", "-0.0000033333333333333333"),
    ("43143ff3c1cb0959", "1424953923781206.2"),
]


@pytest.mark.parametrize(("bits", "expected"), APPENDIX_B, ids=[b for b, _ in APPENDIX_B])
def test_rfc8785_appendix_b_numbers(bits: str, expected: str):
    (number,) = struct.unpack(">d", bytes.fromhex(bits))
    assert rfc8785.dumps(number) == expected.encode()
    if MAX_SAFE_INTEGER < abs(number) < 1e21:
        # JCS writes these as integer literals beyond ±(2**53-1), which parse_json (and
        # any I-JSON reader) refuses: canonicalize refuses to write them.
        assert "e" not in expected and "." not in expected
        with pytest.raises(MalformedJSON, match="integer outside"):
            canonicalize([number])
    else:
        assert canonicalize(number) == expected.encode()
        assert canonicalize([number]) == f"[{expected}]".encode()
        assert parse_json(f"[{expected}]") == [number]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("\b\f\n\r\t", '"\\b\\f\\n\\r\\t"'),
        ("\x00\x01\x1f", '"\\u0000\\u0001\\u001f"'),  # other controls: \u00XX, lowercase hex
        ('"\\', '"\\"\\\\"'),
        ("/\x7f", '"/\x7f"'),  # solidus and DEL are not escaped
        ("é€\U0001f600", '"é€\U0001f600"'),  # non-ASCII as raw UTF-8, never \u escapes
        ({"b": 1, "a": {"d": [], "c": {}}}, '{"a":{"c":{},"d":[]},"b":1}'),
        ([1, -1, 0.5, -0.0, 1e21, 1e-7, MAX_SAFE_INTEGER], f"[1,-1,0.5,0,1e+21,1e-7,{MAX_SAFE_INTEGER}]"),
        ((True, False, None), "[true,false,null]"),
    ],
    ids=["short-escapes", "control-escapes", "quote-backslash", "solidus-del", "utf8", "nested-sort", "numbers", "literals"],
)
def test_canonicalize_known_answers(value: object, expected: str):
    assert canonicalize(value) == expected.encode("utf-8")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (2**53, "2\\*\\*53"),
        (-(2**53), "2\\*\\*53"),
        (10**5000, "2\\*\\*53"),  # str(int) itself refuses this many digits
        (float("nan"), "NaN"),
        (float("inf"), "NaN and infinities"),
        (-math.inf, "NaN and infinities"),
        ({1: "a"}, "keys must be strings"),
        ({b"a": 1}, "keys must be strings"),
        ({"\ud800": 1}, "surrogate"),
        ("\udc00", "UTF-8"),
        (b"bytes", "unsupported type"),
        ({1, 2}, "unsupported type"),
        ([1e16], "integer outside"),
        ({"x": -9007199254740992.0}, "integer outside"),
    ],
    ids=[
        "int-2**53", "int-minus-2**53", "int-5000-digits", "nan", "inf", "minus-inf", "int-key", "bytes-key",
        "surrogate-key", "surrogate-string", "bytes", "set", "float-1e16", "float-minus-2**53",
    ],
)  # fmt: skip
def test_canonicalize_rejects(value: object, message: str):
    with pytest.raises(MalformedJSON, match=message):
        canonicalize(value)


def test_canonicalize_rejects_deep_nesting_without_recursion_error():
    value: list[object] = []
    for _ in range(100_000):
        value = [value]
    with pytest.raises(MalformedJSON, match="nested too deeply"):
        canonicalize(value)


def test_errors_are_value_errors():
    assert issubclass(MalformedJSON, MalformedInput) and issubclass(MalformedJSON, ValueError)


# -- parse_json rejections ------------------------------------------------------------

REJECTED: list[tuple[str, bytes | str, str]] = [
    # what it breaks, input, expected message (regex)
    ("duplicate-key", b'{"a":1,"a":2}', "duplicate object key 'a'"),
    ("duplicate-key-nested", b'[{"x":{"k":1,"j":2,"k":3}}]', "duplicate object key 'k'"),
    ("duplicate-key-escaped", b'{"a":1,"\\u0061":2}', "duplicate object key 'a'"),
    ("nan", b"NaN", "NaN is not JSON"),
    ("nan-in-array", b"[1,NaN]", "NaN is not JSON"),
    ("infinity", b'{"x":Infinity}', "Infinity is not JSON"),
    ("minus-infinity", b"-Infinity", "-Infinity is not JSON"),
    ("depth-33-arrays", b"[" * 33 + b"]" * 33, "nesting deeper than 32 at char 32"),
    ("depth-33-objects", b'{"a":' * 33 + b"{}" + b"}" * 32, "nesting deeper than 32"),
    ("depth-100000-brackets", b"[" * 100_000, "nesting deeper than 32"),
    ("depth-100000-str", "[" * 100_000, "nesting deeper than 32"),
    ("depth-100000-objects", b'{"a":' * 100_000, "nesting deeper than 32"),
    ("int-2**53", b"9007199254740992", "outside"),
    ("int-minus-2**53", b"-9007199254740992", "outside"),
    ("int-20-digits", b"[12345678901234567890]", "20 digits is outside"),
    ("int-100000-digits", b"1" * 100_000, "100000 characters exceeds the limit"),
    ("float-1000-digits", b"0." + b"1" * 1000, "1002 characters exceeds the limit"),
    ("exponent-100000-digits", b"1e" + b"9" * 100_000, "exceeds the limit"),
    ("float-overflow", b"1e400", "overflows a double"),
    ("float-overflow-negative", b"[-1.5e309]", "overflows a double"),
    ("float-2**53", b"9007199254740992.0", "no exact JSON form"),
    ("float-1e16", b"1e16", "no exact JSON form"),
    ("float-minus-1e20", b"[-1E20]", "no exact JSON form"),
    ("invalid-utf8", b'"\xff"', "invalid UTF-8 at byte 1"),
    ("truncated-utf8", b'"\xe2\x82"', "invalid UTF-8 at byte 1"),
    ("overlong-utf8", b'"\xc0\xaf"', "invalid UTF-8 at byte 1"),
    ("utf8-encoded-surrogate", b'"\xed\xa0\x80"', "invalid UTF-8 at byte 1"),
    ("bom-bytes", b"\xef\xbb\xbf{}", "byte order mark"),
    ("bom-str", "\ufeff{}", "byte order mark"),
    ("lone-high-surrogate-escape", b'"\\ud800"', "lone surrogate"),
    ("lone-low-surrogate-escape", b'["\\udc00"]', "lone surrogate"),
    ("reversed-surrogate-pair", b'"\\udc00\\ud800"', "lone surrogate"),
    ("lone-surrogate-escape-in-key", b'{"\\uDBFF":1}', "lone surrogate"),
    ("lone-surrogate-literal-str", '"\ud800"', "lone surrogate U\\+D800 at char 1"),
    ("trailing-data", b"{} {}", "Extra data at line 1 column 4"),
    ("trailing-garbage", b"[1]x", "Extra data"),
    ("two-values", b"1 2", "Extra data"),
    ("trailing-comma", b"[1,]", "Expecting value at line 1 column 4"),
    ("single-quotes", b"{'a':1}", "Expecting property name"),
    ("comment", b"[1 /* c */]", "invalid JSON"),
    ("control-char-in-string", b'"a\nb"', "Invalid control character"),
    ("leading-zero", b"01", "Extra data"),
    ("plus-sign", b"+1", "Expecting value"),
    ("empty", b"", "Expecting value at line 1 column 1"),
    ("whitespace-only", b" \n", "Expecting value"),
    ("unterminated-string", b'["abc', "Unterminated string"),
    ("utf16", "{}".encode("utf-16"), "invalid UTF-8"),
]


@pytest.mark.parametrize(("data", "message"), [r[1:] for r in REJECTED], ids=[r[0] for r in REJECTED])
def test_parse_json_rejects(data: bytes | str, message: str):
    with pytest.raises(MalformedJSON, match=message):
        parse_json(data)


@pytest.mark.parametrize("name", [r[0] for r in REJECTED if isinstance(r[1], bytes)])
def test_parse_json_rejects_str_and_bytes_alike(name: str):
    data = next(r[1] for r in REJECTED if r[0] == name)
    try:
        text = data.decode("utf-8")  # type: ignore[union-attr]
    except UnicodeDecodeError:
        return  # not expressible as a str
    with pytest.raises(MalformedJSON):
        parse_json(text)


def test_parse_json_rejects_other_types():
    with pytest.raises(TypeError):
        parse_json(123)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        parse_json({"a": 1})  # type: ignore[arg-type]


def test_parse_json_max_depth_argument():
    assert parse_json(b"[[1]]", max_depth=2) == [[1]]
    with pytest.raises(MalformedJSON, match="nesting deeper than 1"):
        parse_json(b"[[1]]", max_depth=1)
    assert parse_json(b"7", max_depth=0) == 7
    with pytest.raises(ValueError):
        parse_json(b"[]", max_depth=-1)
    with pytest.raises(TypeError):
        parse_json(b"[]", max_depth="3")  # type: ignore[arg-type]


# -- parse_json acceptances -----------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"[" * MAX_DEPTH + b"]" * MAX_DEPTH, "depth"),
        (b"9007199254740991", MAX_SAFE_INTEGER),
        (b"-9007199254740991", -MAX_SAFE_INTEGER),
        (b"-0", 0),
        (b"1e-400", 0.0),  # underflow to zero is representable
        (b"1E+2", 100.0),
        (b"1e21", 1e21),  # JCS writes 1e+21: an exact float form
        (b"9007199254740991.0", 9007199254740991.0),
        (b"0." + b"5" * (MAX_NUMBER_LENGTH - 2), float("0." + "5" * (MAX_NUMBER_LENGTH - 2))),
        (b'"\\ud83d\\ude00"', "\U0001f600"),  # a proper surrogate pair is one code point
        (b'"\\\\ud800"', "\\ud800"),  # an escaped backslash, then text: no surrogate
        (b'"' + b"[" * 40 + b'"', "[" * 40),  # brackets in strings do not nest
        (b'"\\"' + b"[" * 40 + b'"', '"' + "[" * 40),
        (b' \t\r\n{"a" : [ true , false , null ] }\n', {"a": [True, False, None]}),
        ('"\ufeff"'.encode(), "\ufeff"),  # U+FEFF inside a string is just a character
        ("\"é\"", "é"),
        (bytearray(b"[1]"), [1]),
        (memoryview(b"[2]"), [2]),
    ],
    ids=[
        "depth-32", "max-int", "min-int", "minus-zero", "underflow", "exponent", "1e21", "float-max-safe", "long-number", "surrogate-pair",
        "escaped-backslash-u", "brackets-in-string", "escaped-quote-then-brackets", "whitespace", "bom-in-string",
        "str-input", "bytearray", "memoryview",
    ],
)  # fmt: skip
def test_parse_json_accepts(data: bytes | str, expected: object):
    value = parse_json(data)
    if expected == "depth":
        for _ in range(MAX_DEPTH - 1):
            assert isinstance(value, list) and len(value) == 1
            value = value[0]
        assert value == []
    else:
        assert value == expected


def test_parse_json_types():
    value = parse_json(b'{"i": 1, "f": 1.0, "e": 1e2}')
    assert value == {"i": 1, "f": 1.0, "e": 100.0}
    assert [type(v) for v in value.values()] == [int, float, float]  # type: ignore[union-attr]


# -- properties -----------------------------------------------------------------------

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-MAX_SAFE_INTEGER, max_value=MAX_SAFE_INTEGER)
    | st.floats(allow_nan=False, allow_infinity=False).filter(lambda x: not MAX_SAFE_INTEGER < abs(x) < 1e21)
    | st.text()
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5),
    max_leaves=25,
)


@given(json_values)
def test_canonical_bytes_parse_back(value: object):
    data = canonicalize(value)
    assert parse_json(data) == value
    assert canonicalize(parse_json(data)) == data


@given(json_values)
def test_parse_json_agrees_with_json_on_valid_input(value: object):
    text = json.dumps(value, ensure_ascii=False, indent=1)
    assert parse_json(text.encode("utf-8")) == json.loads(text)
    assert parse_json(json.dumps(value)) == value


@given(st.floats() | st.integers())
def test_what_canonicalize_writes_parse_json_reads(number: float | int):
    try:
        data = canonicalize([number])
    except MalformedJSON:
        return
    assert parse_json(data) == [number]


@given(st.binary(max_size=64))
def test_parse_json_raises_only_malformed_json(data: bytes):
    try:
        parse_json(data)
    except MalformedJSON:
        pass


def reference_depth(value: object) -> int:
    """Nesting depth by the definition: a scalar is 0, a container 1 + its deepest child."""
    if isinstance(value, dict):
        return 1 + max(map(reference_depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(reference_depth, value), default=0)
    return 0


bracket_heavy_text = st.text(alphabet='[]{}"\\/u', max_size=12)
bracket_heavy_values = st.recursive(
    st.none() | bracket_heavy_text,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(bracket_heavy_text, children, max_size=3),
    max_leaves=40,
)


@given(bracket_heavy_values)
def test_depth_limit_is_exact(value: object):
    text = json.dumps(value)
    depth = reference_depth(value)
    assert parse_json(text, max_depth=depth) == value
    if depth > 0:
        with pytest.raises(MalformedJSON, match=f"nesting deeper than {depth - 1}"):
            parse_json(text.encode(), max_depth=depth - 1)


@given(st.text(alphabet='[]{}"\\,:1 ', max_size=200))
def test_structural_garbage_raises_only_malformed_json(text: str):
    try:
        parse_json(text, max_depth=3)
    except MalformedJSON:
        pass


# -- the standard-library fast path gives exactly rfc8785's bytes ------------------------

_tricky_text = st.text(
    st.characters(codec="utf-8")
    | st.sampled_from(['"', "\\", "\x00", "\x1f", "\x7f", "\b", "\f", "\n", "\r", "\t", "\u2028", "\ue000", "\U0001f600"]),
    max_size=12,
)
_plain_scalars = (
    st.none() | st.booleans() | st.integers(min_value=-MAX_SAFE_INTEGER, max_value=MAX_SAFE_INTEGER) | _tricky_text
)
plain_values = st.recursive(
    _plain_scalars,
    lambda children: st.lists(children, max_size=6) | st.dictionaries(_tricky_text, children, max_size=6),
    max_leaves=40,
)


@settings(max_examples=int(os.environ.get("TDSL_JCS_EXAMPLES", "1500")))
@given(plain_values)
def test_fast_path_equals_rfc8785_for_values_without_floats(value: object):
    """``canonicalize`` writes float-free values with ``json``; the bytes must be JCS's.
    Keys with characters outside the BMP (where code-point and UTF-16 order differ) take
    the rfc8785 path; both paths must agree with rfc8785 itself either way."""
    assert canonicalize(value) == rfc8785.dumps(value)


@pytest.mark.parametrize(
    "value",
    [
        {"\U0001f600": 1, "\ue000": 2},  # UTF-16 order puts the emoji (a surrogate pair) first
        {"a": [1, True, None, "\x00\x1f\u2028"]},
        {"k": MAX_SAFE_INTEGER, "l": -MAX_SAFE_INTEGER},
        ("tuple", ["list"]),
    ],
)
def test_fast_path_edge_cases_equal_rfc8785(value: object):
    assert canonicalize(value) == rfc8785.dumps(value)


def test_fast_path_still_refuses_what_jcs_cannot_encode():
    with pytest.raises(MalformedJSON):
        canonicalize({"x": 2**53})
    with pytest.raises(MalformedJSON):
        canonicalize({1: "int key"})
    with pytest.raises(MalformedJSON):
        canonicalize("\ud800")


def test_deep_values_take_the_rfc8785_path_and_never_crash_the_c_encoder():
    """A regression (issue 7): 100,000 nested lists through ``json``'s C encoder overflowed
    the C stack of an xdist worker; values deeper than MAX_DEPTH now go through rfc8785."""
    value: list[object] = []
    for _ in range(MAX_DEPTH + 1):
        value = [value]
    assert canonicalize(value) == rfc8785.dumps(value)
