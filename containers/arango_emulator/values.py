"""AQL values: type order, comparison, casts and number formatting.

The rules are those of ArangoDB's "Type and value order" and "Type check and
cast functions" pages: ``null < bool < number < string < array < object``;
arrays compare element by element (a shorter array is padded with ``null``);
objects compare by the sorted union of their attribute names (a missing
attribute counts as ``null``).

Strings: ArangoDB compares them (and sorts attribute names) with ICU
collation in the server language, by default ``en_US_POSIX`` (the C locale).
That collation puts the printable ASCII characters (and DEL) in code point
order and keeps the whitespace controls TAB, LF, VT, FF and CR before them
in code point order, so for text made only of those characters code point
order *is* ArangoDB's order, and the emulator uses it. Anything else follows
ICU's root collation (``"é"`` sorts after ``"z"``), which the emulator does
not implement: *ordering* two different strings where either holds another
character is refused with error 9 (HTTP 501) instead of answering in code
point order. Equality needs no collation table: ArangoDB's collator runs at
identical strength, so two strings are equal exactly when they are
canonically equivalent (the same NFD form: ``"é" == "e\u0301"``), and
:func:`equal` and the equality keys of DISTINCT, COLLECT and unique indexes
(:func:`canonical`) decide it so for every string.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from functools import cmp_to_key
from typing import Any

from .errors import ArangoError

NULL, BOOL, NUMBER, STRING, ARRAY, OBJECT = range(6)
TYPE_NAMES = ("null", "bool", "number", "string", "array", "object")


def type_rank(value: Any) -> int:
    if value is None:
        return NULL
    if value is True or value is False:
        return BOOL
    if isinstance(value, (int, float)):
        return NUMBER
    if isinstance(value, str):
        return STRING
    if isinstance(value, list):
        return ARRAY
    if isinstance(value, dict):
        return OBJECT
    raise TypeError(f"not an AQL value: {type(value).__name__}")


#: the characters en_US_POSIX collation orders by code point
_CODE_POINT_ORDERED = re.compile(r"[\t\n\x0b\x0c\r\x20-\x7f]*")


def collation_refused() -> ArangoError:
    return ArangoError(9, "comparing strings with characters other than printable ASCII and "
                          "whitespace (ICU collation) is not supported by this emulated "
                          "server", status=501)


def compare_strings(a: str, b: str) -> int:
    """-1, 0 or 1, as en_US_POSIX collation orders two strings; refused where
    that is not code point order (see the module docstring)."""
    if a == b:
        return 0
    if not (_CODE_POINT_ORDERED.fullmatch(a) and _CODE_POINT_ORDERED.fullmatch(b)):
        if string_key(a) == string_key(b):
            return 0
        raise collation_refused()
    return -1 if a < b else 1


_attribute_order = cmp_to_key(compare_strings)


def compare(a: Any, b: Any) -> int:
    """-1, 0 or 1, by AQL's type and value order."""
    ta, tb = type_rank(a), type_rank(b)
    if ta != tb:
        return -1 if ta < tb else 1
    if ta == NULL:
        return 0
    if ta == STRING:
        return compare_strings(a, b)
    if ta in (BOOL, NUMBER):
        return (a > b) - (a < b)
    if ta == ARRAY:
        for i in range(max(len(a), len(b))):
            c = compare(a[i] if i < len(a) else None, b[i] if i < len(b) else None)
            if c:
                return c
        return 0
    for name in sorted(set(a) | set(b), key=_attribute_order):
        c = compare(a.get(name), b.get(name))
        if c:
            return c
    return 0


def equal(a: Any, b: Any) -> bool:
    """AQL's ``==``: the same type and value, strings canonically equivalent
    (no collation order needed, so never refused)."""
    ta, tb = type_rank(a), type_rank(b)
    if ta != tb:
        return False
    if ta == NULL:
        return True
    if ta == STRING:
        return a == b or string_key(a) == string_key(b)
    if ta in (BOOL, NUMBER):
        return a == b
    if ta == ARRAY:
        return all(equal(a[i] if i < len(a) else None, b[i] if i < len(b) else None)
                   for i in range(max(len(a), len(b))))
    return all(equal(a.get(name), b.get(name)) for name in set(a) | set(b))


sort_key = cmp_to_key(compare)


def to_bool(value: Any) -> bool:
    t = type_rank(value)
    if t == NULL:
        return False
    if t == BOOL:
        return value
    if t == NUMBER:
        return value != 0
    if t == STRING:
        return value != ""
    return True


_NUMBER_TEXT = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def to_number(value: Any) -> Any:
    t = type_rank(value)
    if t == NULL:
        return 0
    if t == BOOL:
        return 1 if value else 0
    if t == NUMBER:
        return value if math.isfinite(value) else 0
    if t == STRING:
        text = value.strip()
        if _NUMBER_TEXT.fullmatch(text):
            return normalize_number(float(text)) if any(c in text for c in ".eE") else int(text)
        for prefix, base in (("0x", 16), ("0b", 2), ("0o", 8)):
            if text.lower().startswith(prefix):
                try:
                    return int(text[2:], base)
                except ValueError:
                    return 0
        return 0
    if t == ARRAY:
        return to_number(value[0]) if len(value) == 1 else 0
    return 0


def normalize_number(x: Any) -> Any:
    """A finite result as AQL keeps it; NaN and infinities become null."""
    if isinstance(x, bool):
        return x
    if isinstance(x, float):
        if not math.isfinite(x):
            return None
        if x.is_integer() and abs(x) < 2 ** 53:
            return int(x)
    return x


def format_number(x: Any) -> str:
    """A number as ArangoDB writes it (the shortest form, JavaScript style)."""
    if isinstance(x, int):
        return str(x)
    if x.is_integer() and abs(x) < 1e21:
        return str(int(x))
    text = repr(x)
    mantissa, _, exponent = text.partition("e")
    if not exponent:
        return text
    exp = int(exponent)
    if -7 < exp < 21:
        return format(x, "f").rstrip("0").rstrip(".")
    return f"{mantissa.rstrip('0').rstrip('.') if '.' in mantissa else mantissa}e{'+' if exp > 0 else '-'}{abs(exp)}"


def to_string(value: Any) -> str:
    t = type_rank(value)
    if t == NULL:
        return ""
    if t == BOOL:
        return "true" if value else "false"
    if t == NUMBER:
        return format_number(value)
    if t == STRING:
        return value
    return dumps(value)


def to_array(value: Any) -> list:
    t = type_rank(value)
    if t == NULL:
        return []
    if t == ARRAY:
        return value
    if t == OBJECT:
        return list(value.values())
    return [value]


def for_json(value: Any) -> Any:
    """A value ready for JSON: integral floats are written as integers, as
    ArangoDB's number printing does, and non-finite numbers as null."""
    if isinstance(value, float):
        return normalize_number(value)
    if isinstance(value, list):
        return [for_json(v) for v in value]
    if isinstance(value, dict):
        return {k: for_json(v) for k, v in value.items()}
    return value


class _Encoder(json.JSONEncoder):
    def iterencode(self, o, _one_shot=False):
        return super().iterencode(for_json(o), _one_shot)


def dumps(value: Any) -> str:
    """Compact JSON, as TO_STRING and JSON_STRINGIFY give it."""
    return json.dumps(for_json(value), separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"invalid JSON constant {name}")


def loads(text: str) -> Any:
    """Parse JSON as ArangoDB does: NaN and Infinity are not JSON."""
    return json.loads(text, parse_constant=_reject_constant)


def string_key(text: str) -> str:
    """A key under which collation-equal strings are equal: canonically
    equivalent strings share their NFD form (identical strength)."""
    if _CODE_POINT_ORDERED.fullmatch(text):
        return text
    return unicodedata.normalize("NFD", text)


def canonical(value: Any) -> Any:
    """A hashable form under which AQL-equal values are equal (``1 == 1.0``,
    ``{} == {a: null}``, ``[] == [null]``), for unique indexes and DISTINCT."""
    t = type_rank(value)
    if t == NULL:
        return (NULL,)
    if t == BOOL:
        return (BOOL, value)
    if t == NUMBER:
        return (NUMBER, value)
    if t == STRING:
        return (STRING, string_key(value))
    if t == ARRAY:
        items = [canonical(v) for v in value]
        while items and items[-1] == (NULL,):
            items.pop()
        return (ARRAY, tuple(items))
    return (OBJECT, tuple(sorted((string_key(k), canonical(v)) for k, v in value.items()
                                 if v is not None)))


def typename(value: Any) -> str:
    return TYPE_NAMES[type_rank(value)]
