"""Canonical JSON (RFC 8785, JCS) and the one strict JSON parser.

This module is the only place where JSON becomes bytes to hash or sign
(``canonicalize``) and the only parser for JSON that arrives from outside
(``parse_json``). Both raise ``ledger.errors.MalformedJSON`` (a ``ValueError``) with a
message that says what was wrong and, where known, where.

``canonicalize`` writes the bytes of the ``rfc8785`` package: object keys sorted by their
UTF-16 code units, no whitespace, ECMAScript number formatting, minimal string escapes
(through the standard library's C encoder where that gives the same bytes, floats
included; see ``canonicalize``).
It refuses what JCS cannot encode: integers outside ±(2**53 - 1), NaN and infinities,
non-``str`` object keys, strings with lone surrogates, types other than ``dict``,
``list``/``tuple``, ``str``, ``int``, ``float``, ``bool`` and ``None``. It also refuses
floats with 2**53 <= |x| < 1e21: JCS writes those as integer literals
(``1e16`` → ``10000000000000000``) that no strict reader, this one included, accepts.
So whatever it writes reads back with ``parse_json`` (within ``MAX_DEPTH``; nesting is
otherwise limited only by Python's recursion limit).

``parse_json`` accepts RFC 8259 JSON text and refuses, with ``MalformedJSON``:

- input that is not ``bytes``/``str`` (``TypeError``), invalid UTF-8, a byte order mark;
- lone surrogates, literal in a ``str`` or escaped (``"\\ud800"``);
- duplicate object keys (RFC 8259 leaves them undefined; I-JSON, RFC 7493, forbids them);
- ``NaN``, ``Infinity``, ``-Infinity``, numbers that overflow a double, and numbers
  with 2**53 <= |x| < 1e21 written as floats (``1e16``), which ``canonicalize`` would
  turn into out-of-range integer literals;
- integers outside ±(2**53 - 1) (RFC 7493 §2.2), rejected by length before any
  conversion so a long digit string costs no time;
- number tokens longer than ``MAX_NUMBER_LENGTH`` characters, before conversion;
- nesting deeper than ``MAX_DEPTH`` arrays/objects — counted by a linear scan of the
  text *before* parsing, so 100,000 ``[`` give ``MalformedJSON``, never a
  ``RecursionError``;
- anything after the value but whitespace, and the usual syntax errors.

Whole-body size limits belong to the caller (the API answers ``PayloadTooLarge``).
Integers come back as ``int``, other numbers as ``float``, objects as ``dict``.
"""

from __future__ import annotations

import json
import math
import re
from array import array
from itertools import accumulate

import rfc8785

from ledger.errors import MalformedJSON

__all__ = ["MAX_DEPTH", "MAX_NUMBER_LENGTH", "MAX_SAFE_INTEGER", "canonicalize", "parse_json"]

#: Most arrays/objects nested in one another; a scalar has depth 0, ``[]`` depth 1.
#: The deepest public example we carry (a UNTP JSON-LD context) has depth 13.
MAX_DEPTH = 32

#: Longest number token accepted, in characters (sign, digits, point, exponent).
MAX_NUMBER_LENGTH = 320

#: Largest integer magnitude accepted: 2**53 - 1, the last exactly representable in
#: an IEEE 754 double (RFC 7493 §2.2, RFC 8785 §3.2.2.3).
MAX_SAFE_INTEGER = 2**53 - 1
_MAX_SAFE_DIGITS = len(str(MAX_SAFE_INTEGER))  # 16
# ECMAScript (hence JCS) writes a double below 1e21 without an exponent.
_JCS_EXPONENT_FROM = 1e21

_MAX_MESSAGE = 200

# Depth is counted on the UTF-8 bytes: drop escape pairs (backslash + next byte), keep
# only quotes and brackets, drop what lies between quote pairs (string contents; an
# unterminated string runs to the end), then sum +1/-1 over the brackets left. Each
# step is a C-level pass over the bytes. The finder below is for the error message.
_ESCAPE_PAIR = re.compile(rb"\\.", re.DOTALL)
_NOT_STRUCTURAL = bytes(b for b in range(256) if b not in b'"[]{}')
_BRACKET_STEP = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")  # as signed chars: +1, -1
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*+"?|[\[\]{}]', re.DOTALL)
_SURROGATE = re.compile("[\ud800-\udfff]")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89abcdefABCDEF]")


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_MESSAGE else text[:_MAX_MESSAGE] + "…"


def _unsafe_float(number: float) -> bool:
    """True for a double that JCS writes as an integer literal beyond ±(2**53-1)."""
    return MAX_SAFE_INTEGER < abs(number) < _JCS_EXPONENT_FROM


def _check_floats(value: object) -> None:
    """Refuse floats that JCS would write as out-of-range integers (walk without recursion)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if type(item) is float:
            if _unsafe_float(item):
                raise MalformedJSON(
                    f"cannot canonicalize: float {item!r} would be written as an integer outside ±(2**53-1)"
                )
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)


def _number(number: float) -> str:
    """ECMAScript ``Number.prototype.toString`` of a finite double (RFC 8785 §3.2.2.3).

    The digits are ``repr``'s: the shortest that read back as the same double (nearest
    the exact value among those), as ECMAScript requires. ``repr`` writes plain notation
    for 1e-4 <= |x| < 1e16, where ECMAScript does too, and only adds a ``.0`` to integral
    values; otherwise it writes ``d[.ddd]e±XX``, which is rewritten by ECMAScript's rules:
    plain notation for 1e-6 <= |x| < 1e21, else ``d[.ddd]e+X`` / ``e-X`` (sign always,
    no leading zeros). ``-0`` is ``0``.
    """
    if number == 0:
        return "0"
    text = repr(number)
    if "e" not in text:
        return text[:-2] if text.endswith(".0") else text
    mantissa, _, exponent = text.partition("e")
    sign = "-" if mantissa[0] == "-" else ""
    digits = mantissa.lstrip("-").replace(".", "").rstrip("0")  # repr's mantissa is d or d.ddd, d > 0
    k, n = len(digits), int(exponent) + 1  # the value is 0.<digits> × 10**n
    if k <= n <= 21:
        return sign + digits + "0" * (n - k)
    if 0 < n <= 21:
        return f"{sign}{digits[:n]}.{digits[n:]}"
    if -6 < n <= 0:
        return f"{sign}0.{'0' * -n}{digits}"
    e = n - 1
    return f"{sign}{digits[0]}{'.' + digits[1:] if k > 1 else ''}e{'+' if e > 0 else '-'}{abs(e)}"


class _Slow(Exception):
    """``_prepare`` met something the fast path does not write: rfc8785 decides."""


# Each float goes to the C encoder as a string: a lone surrogate U+D800 and then its
# JCS digits. The encoder writes that string unescaped, as ``"\ud800<digits>"``, and the
# pattern below puts the bare digits back. No genuine string can pass for one: JSON text
# from a real string that holds a lone surrogate either matches the pattern too (so more
# matches than floats) or keeps the surrogate (so the UTF-8 encoding fails); both send
# the value down the rfc8785 path, which refuses it as before.
_FLOAT_MARK = "\ud800"
_FLOAT_SLOT = re.compile('"\ud800([-+.0-9e]+)"')


def _float_slot(number: float, slots: list[str]) -> str:
    magnitude = abs(number)
    if not (magnitude <= MAX_SAFE_INTEGER or _JCS_EXPONENT_FROM <= magnitude < math.inf):
        raise _Slow  # NaN, an infinity, or 2**53 < |x| < 1e21: refused on the rfc8785 path
    slot = _FLOAT_MARK + _number(number)
    slots.append(slot)
    return slot


def _prepare(item: dict | list | tuple, depth: int, slots: list[str]) -> object:
    """``item`` with its floats replaced so that the C encoder writes JCS's bytes; ``_Slow``
    where it cannot.

    The C encoder (``json.dumps`` with ``sort_keys``, no whitespace, no ASCII escaping)
    gives JCS's bytes for a tree of dicts with ``str`` keys of BMP characters only
    (code-point order is then UTF-16 order), lists/tuples, ``str``, ``bool``, ``None`` and
    ``int`` within ±(2**53-1) — no subclasses, and nesting within ``MAX_DEPTH`` (the C
    encoder recurses on the C stack; 100,000 nested lists crash the interpreter there).
    Strings need no condition: both escape exactly ``"``, ``\\`` and U+0000–U+001F, with
    the same short forms and lowercase ``\\u00xx``; a lone surrogate fails to encode.
    Floats, which the encoder writes as ``repr`` does, are replaced by ``_float_slot``
    strings (in a copy of each container that holds one; the rest is shared, not copied),
    and ``slots`` collects them.
    """
    if depth >= MAX_DEPTH:  # the C encoder recurses on the C stack: deep values go the slow way
        raise _Slow
    out: dict | list | None = None
    if type(item) is dict:
        for key, v in item.items():
            if type(key) is not str or (not key.isascii() and max(key) > "\uffff"):
                raise _Slow  # not a string, or outside the BMP: code-point order may not be UTF-16 order
            t = type(v)
            if t is str or t is bool or v is None:
                continue
            if t is int:
                if -MAX_SAFE_INTEGER <= v <= MAX_SAFE_INTEGER:
                    continue
                raise _Slow
            if t is float:
                new = _float_slot(v, slots)
            elif t is dict or t is list or t is tuple:
                new = _prepare(v, depth + 1, slots)
                if new is v:
                    continue
            else:
                raise _Slow
            if out is None:
                out = dict(item)
            out[key] = new
    else:
        for i, v in enumerate(item):
            t = type(v)
            if t is str or t is bool or v is None:
                continue
            if t is int:
                if -MAX_SAFE_INTEGER <= v <= MAX_SAFE_INTEGER:
                    continue
                raise _Slow
            if t is float:
                new = _float_slot(v, slots)
            elif t is dict or t is list or t is tuple:
                new = _prepare(v, depth + 1, slots)
                if new is v:
                    continue
            else:
                raise _Slow
            if out is None:
                out = list(item)
            out[i] = new
    return item if out is None else out


def _fast(value: object) -> bytes | None:
    """JCS bytes through the C encoder (see ``_prepare``), or None where rfc8785 must decide."""
    t = type(value)
    if t is dict or t is list or t is tuple:
        slots: list[str] = []
        try:
            text = _FAST.encode(_prepare(value, 0, slots))  # type: ignore[arg-type]
            if slots:
                text, found = _FLOAT_SLOT.subn(r"\1", text)
                if found != len(slots):
                    return None  # a genuine string looked like a slot: it holds a lone surrogate
            return text.encode("utf-8")
        except (_Slow, UnicodeEncodeError, RecursionError, ValueError):
            return None  # a lone surrogate, a cycle, anything JCS refuses: rfc8785 names the problem
    if t is float:
        magnitude = abs(value)  # type: ignore[arg-type]
        if magnitude <= MAX_SAFE_INTEGER or _JCS_EXPONENT_FROM <= magnitude < math.inf:
            return _number(value).encode("ascii")  # type: ignore[arg-type]
        return None
    if t is str or t is bool or value is None or (t is int and -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER):  # type: ignore[operator]
        try:
            return _FAST.encode(value).encode("utf-8")
        except UnicodeEncodeError:
            return None
    return None


_FAST = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True, allow_nan=False, check_circular=True)


def canonicalize(value: object) -> bytes:
    """RFC 8785 canonical UTF-8 bytes of a JSON value.

    Requires a tree of dict (str keys), list/tuple, str, int, float, bool, None.
    Raises MalformedJSON for anything JCS cannot encode or ``parse_json`` cannot read.

    Values whose object keys are all in the BMP (``_prepare``: nearly every payload and
    every envelope) are written by the standard library's C encoder, floats by
    ``_number``; that gives the same bytes as JCS (``tests/test_canonical.py`` checks the
    two against each other, floats included); anything else goes through ``rfc8785``.
    """
    data = _fast(value)
    if data is not None:
        return data
    _check_floats(value)
    try:
        return rfc8785.dumps(value)  # type: ignore[arg-type]
    except rfc8785.IntegerDomainError as exc:
        raise MalformedJSON(f"cannot canonicalize: {_clip(str(exc))} (limit ±(2**53-1))") from exc
    except rfc8785.FloatDomainError as exc:
        raise MalformedJSON(f"cannot canonicalize: {exc} (NaN and infinities have no JSON form)") from exc
    except rfc8785.CanonicalizationError as exc:
        raise MalformedJSON(f"cannot canonicalize: {_clip(str(exc))}") from exc
    except UnicodeEncodeError as exc:
        raise MalformedJSON("cannot canonicalize: object key contains a lone surrogate") from exc
    except RecursionError as exc:
        raise MalformedJSON("cannot canonicalize: value nested too deeply") from exc
    except ValueError as exc:
        # int.__str__ refuses more than sys.get_int_max_str_digits() digits while
        # rfc8785 formats its error message about an out-of-range integer.
        raise MalformedJSON("cannot canonicalize: integer outside ±(2**53-1)") from exc


# -- parsing --------------------------------------------------------------------------


def _object(pairs: list[tuple[str, object]]) -> dict[str, object]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise MalformedJSON(f"duplicate object key {_clip(repr(key))}")
            seen.add(key)
    return result


def _int(token: str) -> int:
    digits = len(token) - (token[0] == "-")
    if digits > _MAX_SAFE_DIGITS:
        raise MalformedJSON(
            f"integer with {digits} digits is outside ±(2**53-1): {_clip(token)}"
            if len(token) <= MAX_NUMBER_LENGTH
            else f"number of {len(token)} characters exceeds the limit of {MAX_NUMBER_LENGTH}"
        )
    number = int(token)
    if not -MAX_SAFE_INTEGER <= number <= MAX_SAFE_INTEGER:
        raise MalformedJSON(f"integer {token} is outside ±(2**53-1)")
    return number


def _float(token: str) -> float:
    if len(token) > MAX_NUMBER_LENGTH:
        raise MalformedJSON(f"number of {len(token)} characters exceeds the limit of {MAX_NUMBER_LENGTH}")
    number = float(token)
    if math.isinf(number):
        raise MalformedJSON(f"number {_clip(token)} overflows a double")
    if _unsafe_float(number):
        raise MalformedJSON(f"number {_clip(token)} is in [2**53, 1e21): it has no exact JSON form")
    return number


def _constant(token: str) -> object:
    raise MalformedJSON(f"{token} is not JSON")


_DECODER = json.JSONDecoder(
    object_pairs_hook=_object, parse_int=_int, parse_float=_float, parse_constant=_constant, strict=True
)


def _check_depth(raw: bytes, text: str, max_depth: int) -> None:
    """Raise MalformedJSON if brackets outside strings nest deeper than max_depth.

    ``raw`` is ``text`` as UTF-8. On valid JSON the count is the exact depth; on any
    valid prefix it bounds the depth the parser can reach before it fails.
    """
    if raw.count(b"[") + raw.count(b"{") <= max_depth:
        return
    if b"\\" in raw:
        raw = _ESCAPE_PAIR.sub(b"", raw)
    brackets = b"".join(raw.translate(None, _NOT_STRUCTURAL).split(b'"')[::2])
    if max(accumulate(array("b", brackets.translate(_BRACKET_STEP))), default=0) <= max_depth:
        return
    depth = 0
    for match in _TOKEN.finditer(text):  # error path only: find where it happens
        token = match.group()
        if token[0] != '"':
            depth += 1 if token in "[{" else -1
            if depth > max_depth:
                raise MalformedJSON(f"nesting deeper than {max_depth} at char {match.start()}")
    raise MalformedJSON(f"nesting deeper than {max_depth}")  # pragma: no cover


def _check_strings(value: object) -> None:
    """Raise MalformedJSON if any key or string in the tree holds a lone surrogate."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                raise MalformedJSON(f"string {_clip(ascii(item))} contains a lone surrogate escape")
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def parse_json(data: bytes | bytearray | memoryview | str, *, max_depth: int = MAX_DEPTH) -> object:
    """Parse one strict JSON value (see the module docstring for what is refused).

    Requires UTF-8 bytes or a str; raises TypeError for another type and MalformedJSON
    for anything that is not strict JSON within the limits.
    """
    if isinstance(data, (bytes, bytearray, memoryview)):
        raw = bytes(data)
        if raw.startswith(b"\xef\xbb\xbf"):
            raise MalformedJSON("byte order mark (U+FEFF) before the JSON text")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedJSON(f"invalid UTF-8 at byte {exc.start}: {exc.reason}") from exc
    elif isinstance(data, str):
        text = data
        if text.startswith("\ufeff"):
            raise MalformedJSON("byte order mark (U+FEFF) before the JSON text")
        if (match := _SURROGATE.search(text)) is not None:
            raise MalformedJSON(f"lone surrogate U+{ord(match.group()):04X} at char {match.start()}")
        raw = text.encode("utf-8")
    else:
        raise TypeError(f"parse_json: expected bytes or str, got {type(data).__name__}")
    if isinstance(max_depth, bool) or not isinstance(max_depth, int):
        raise TypeError(f"parse_json: max_depth must be an int, got {type(max_depth).__name__}")
    if max_depth < 0:
        raise ValueError(f"parse_json: max_depth must be >= 0, got {max_depth}")

    _check_depth(raw, text, max_depth)
    try:
        value = _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno} (char {exc.pos})"
        raise MalformedJSON(f"invalid JSON: {exc.msg} at {where}") from exc
    except RecursionError as exc:  # pragma: no cover - _check_depth bounds the nesting
        raise MalformedJSON("nesting too deep") from exc
    if _SURROGATE_ESCAPE.search(text):
        _check_strings(value)
    return value
