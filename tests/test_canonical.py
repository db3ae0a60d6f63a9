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

from ledger import canonical
from ledger.canonical import (
    MAX_DEPTH,
    MAX_NUMBER_LENGTH,
    MAX_SAFE_INTEGER,
    _number,
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


# -- floats on the fast path: ECMAScript number formatting, byte for byte rfc8785's --------


def _unsafe(number: float) -> bool:
    return MAX_SAFE_INTEGER < abs(number) < 1e21


def _assert_float_like_rfc8785(number: float) -> None:
    """``_number`` is ECMAScript's Number::toString everywhere (rfc8785's digits); the
    canonical forms agree with rfc8785 except where canonicalize refuses (2**53 <= |x| < 1e21)."""
    assert _number(number).encode() == rfc8785.dumps(number)
    values = (number, [number], {"k": number}, [{"a": [number, 1, "s"]}, number])
    for value in values:
        if _unsafe(number):
            with pytest.raises(MalformedJSON, match="integer outside"):
                canonicalize(value)
        else:
            assert canonicalize(value) == rfc8785.dumps(value)
    if not _unsafe(number):
        assert parse_json(canonicalize([number])) == [number]


_FLOAT_EXAMPLES = int(os.environ.get("TDSL_JCS_EXAMPLES", "1500")) * 2
# uniform over bit patterns, so every binary exponent (hence every decimal form) is drawn
_float_bits = st.integers(min_value=0, max_value=2**64 - 1).map(
    lambda bits: struct.unpack(">d", bits.to_bytes(8, "big"))[0]
).filter(math.isfinite)


@settings(max_examples=_FLOAT_EXAMPLES)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_fast_path_floats_equal_rfc8785(number: float):
    _assert_float_like_rfc8785(number)


@settings(max_examples=_FLOAT_EXAMPLES)
@given(_float_bits)
def test_fast_path_floats_from_bit_patterns_equal_rfc8785(number: float):
    _assert_float_like_rfc8785(number)


FLOAT_EDGES = [
    (1e21, "1e+21"),  # the first exponent form above
    (1e-7, "1e-7"),  # below 1e-6: exponent form
    (1e-6, "0.000001"),  # the last plain form below
    (1.5e-6, "0.0000015"),
    (1e-5, "0.00001"),  # repr writes 1e-05
    (0.0001, "0.0001"),  # repr's first plain form
    (5e-324, "5e-324"),  # the smallest subnormal
    (1.7976931348623157e308, "1.7976931348623157e+308"),  # the largest double
    (0.1, "0.1"),
    (100.0, "100"),
    (40.5, "40.5"),
    (1e15, "1000000000000000"),  # repr writes 1000000000000000.0
    (float(MAX_SAFE_INTEGER), "9007199254740991"),
    (-0.0, "0"),
    (0.0, "0"),
    (-1e-7, "-1e-7"),
    (-1.5e300, "-1.5e+300"),
    (1.23e-18, "1.23e-18"),
    (1e22, "1e+22"),
    (1e20, None),  # 2**53 <= |x| < 1e21: JCS writes an integer literal canonicalize refuses
    (123456789012345680000.0, None),
    (float(2**53), None),
    (float(2**53 + 1), None),  # rounds to 2**53
    (1e16, None),
    (-9.999999999999999e20, None),
]


@pytest.mark.parametrize(("number", "expected"), FLOAT_EDGES, ids=[repr(n) for n, _ in FLOAT_EDGES])
def test_fast_path_float_edge_cases(number: float, expected: str | None):
    _assert_float_like_rfc8785(number)
    if expected is None:
        with pytest.raises(MalformedJSON, match="integer outside"):
            canonicalize({"x": [number]})
    else:
        assert canonicalize(number) == expected.encode()
        assert canonicalize({"x": [number, -number]}) == f'{{"x":[{expected},{_number(-number)}]}}'.encode()


def test_refusals_of_nan_and_infinities_inside_values():
    for bad in (math.nan, math.inf, -math.inf):
        with pytest.raises(MalformedJSON, match="NaN"):
            canonicalize({"a": [1.5, {"b": bad}]})


# Payloads mixing every scalar (floats over the whole finite range, so some are refused),
# keys with non-BMP characters (UTF-16 order differs from code-point order against
# U+E000–U+FFFF), and strings that hold lone surrogates, some shaped like the fast path's
# float slots ("\ud800" + digits).
_mixed_text = st.text(
    st.characters(codec="utf-8")
    | st.sampled_from(['"', "\\", "\x00", "\x1f", "\u2028", "\ue000", "\uffff", "\U0001f600", "\U00010000", "é"]),
    max_size=8,
)
_surrogate_text = st.sampled_from(["\ud800", "\udfff", "\ud8001.5", "\ud800-1e-7", '"\ud8000', "a\udc00b"])
_mixed_scalars = (
    _plain_scalars
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.floats(min_value=-1e6, max_value=1e6, allow_nan=False).map(lambda x: round(x, 3))
    | st.sampled_from([0.5, -0.0, 1e21, 1e-7, 5e-324, 40.5, 1e20])
)
mixed_values = st.recursive(
    _mixed_scalars,
    lambda children: st.lists(children, max_size=6) | st.tuples(children, children)
    | st.dictionaries(_mixed_text, children, max_size=6),
    max_leaves=40,
)  # fmt: skip


def _rfc8785_or_error(value: object) -> bytes | None:
    try:
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, UnicodeEncodeError, ValueError):
        return None


def _walk(value: object):
    yield value
    if isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from _walk(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _walk(v)


@settings(max_examples=int(os.environ.get("TDSL_JCS_EXAMPLES", "1500")))
@given(mixed_values)
def test_fast_path_equals_rfc8785_for_values_with_floats(value: object):
    """Every float-holding value: rfc8785's bytes, or MalformedJSON where canonicalize
    refuses (a float in [2**53, 1e21)) — never different bytes."""
    if any(type(x) is float and _unsafe(x) for x in _walk(value)):
        with pytest.raises(MalformedJSON, match="integer outside"):
            canonicalize(value)
    else:
        assert canonicalize(value) == rfc8785.dumps(value)


@settings(max_examples=int(os.environ.get("TDSL_JCS_EXAMPLES", "1500")) // 3)
@given(st.recursive(
    _mixed_scalars.filter(lambda x: type(x) is not float or not _unsafe(x)) | _surrogate_text,
    lambda children: st.lists(children, max_size=5)
    | st.dictionaries(_mixed_text | _surrogate_text, children, max_size=5),
    max_leaves=20,
))  # fmt: skip
def test_lone_surrogates_refused_alongside_floats(value: object):
    """A string with a lone surrogate — one shaped like a float slot included — is refused
    exactly when rfc8785 refuses it; otherwise the bytes are rfc8785's."""
    expected = _rfc8785_or_error(value)
    if expected is None:
        with pytest.raises(MalformedJSON):
            canonicalize(value)
    else:
        assert canonicalize(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        {"a": 1.5, "b": "\ud8001.5"},  # a string value shaped like the slot of 1.5
        {"\ud8002.5": 2.5},  # a key shaped like a slot
        ["\ud800-1e-7", -1e-7],
        [0.5, "\ud800"],
        ['"\ud8001.5', 1.5],
        {"x": [1.5, {"y": "\udfff"}]},
    ],
)
def test_slot_shaped_surrogate_strings_are_refused(value: object):
    with pytest.raises(MalformedJSON, match="surrogate|UTF-8"):
        canonicalize(value)


@pytest.mark.parametrize(
    "value",
    [
        {"\U0001f600": 1.5, "\ue000": -0.0, "a": [1e-7]},  # non-BMP keys: the rfc8785 path, same bytes
        {"\ue000": {"\U00010000": 0.25}, "é": 1e21},
        (1.5, (2.5, [3.5]), {"t": (0.1,)}),  # tuples holding floats
        {"a": [[[[0.5]]]], "b": {"c": {"d": 1e-300}}},
        [1, 1.0, True, None, "1.0", 10.0, -2.5e-8],
    ],
)
def test_fast_path_float_containers_equal_rfc8785(value: object):
    assert canonicalize(value) == rfc8785.dumps(value)


def test_float_payloads_never_reach_rfc8785(monkeypatch: pytest.MonkeyPatch):
    """A credential-like payload with floats (``carbonFootprint: 40.5``) takes the C
    encoder: rfc8785 is not called, and the shared containers are not modified."""
    payload = {
        "credential": {"credentialSubject": {"emissionsScorecard": {"carbonFootprint": 40.5, "declaredUnit": "H87"},
                                             "ratios": [0.25, 1e-7, 12, "x"]}, "validFrom": "2026-03-02T00:00:00Z"},
        "vc_jwt": "eyJ.x.y",
    }  # fmt: skip
    before = json.dumps(payload, sort_keys=True)
    expected = rfc8785.dumps(payload)

    def boom(value: object) -> bytes:
        raise AssertionError("rfc8785 called")

    monkeypatch.setattr(canonical.rfc8785, "dumps", boom)
    assert canonicalize(payload) == expected
    assert json.dumps(payload, sort_keys=True) == before
