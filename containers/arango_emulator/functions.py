"""The AQL functions this server implements, and the names of the others.

Each implemented function has ArangoDB's arity; a function ArangoDB has but
this server does not is refused at parse time (error 1501), an unknown one
with 1540, as ArangoDB does.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
import secrets
import time
import uuid
from typing import Any, Callable, Optional

from . import dates
from .errors import QueryError, EXECUTING
from .values import (ARRAY, BOOL, NULL, NUMBER, OBJECT, STRING, canonical, dumps,
                     equal, normalize_number, sort_key, to_array, to_bool, to_number,
                     to_string, type_rank, typename)

#: every built-in function name of ArangoDB 3.12 (arangod/Aql/AqlFunctionFeature.cpp,
#: plus the ArangoSearch functions), so an unknown name is told from an unsupported one
KNOWN = frozenset("""
IS_NULL IS_BOOL IS_NUMBER IS_STRING IS_ARRAY IS_LIST IS_OBJECT IS_DOCUMENT IS_DATESTRING
IS_IPV4 IS_KEY TYPENAME TO_NUMBER TO_STRING TO_BOOL TO_ARRAY TO_LIST CONCAT CONCAT_SEPARATOR
CHAR_LENGTH LOWER UPPER SUBSTRING SUBSTRING_BYTES CONTAINS LIKE REGEX_MATCHES REGEX_SPLIT
REGEX_TEST REGEX_REPLACE LEFT RIGHT TRIM LTRIM RTRIM FIND_FIRST FIND_LAST SPLIT SUBSTITUTE
IPV4_TO_NUMBER IPV4_FROM_NUMBER MD5 SHA1 SHA256 SHA512 CRC32 FNV64 HASH TO_BASE64 TO_HEX
ENCODE_URI_COMPONENT SOUNDEX LEVENSHTEIN_DISTANCE LEVENSHTEIN_MATCH NGRAM_MATCH
NGRAM_SIMILARITY NGRAM_POSITIONAL_SIMILARITY MINHASH_MATCH IN_RANGE RANDOM_TOKEN UUID FLOOR
CEIL ROUND ABS SQRT POW LOG LOG2 LOG10 EXP EXP2 SIN COS TAN ASIN ACOS ATAN ATAN2 RADIANS
DEGREES PI BIT_AND BIT_OR BIT_XOR BIT_NEGATE BIT_TEST BIT_POPCOUNT BIT_SHIFT_LEFT
BIT_SHIFT_RIGHT BIT_CONSTRUCT BIT_DECONSTRUCT BIT_TO_STRING BIT_FROM_STRING MINHASH_ERROR
MINHASH_COUNT RAND RANGE UNION UNION_DISTINCT MINUS OUTERSECTION INTERSECTION JACCARD FLATTEN
LENGTH COUNT MIN MAX SUM MEDIAN PERCENTILE AVERAGE AVG VARIANCE_SAMPLE VARIANCE_POPULATION
VARIANCE STDDEV_SAMPLE STDDEV_POPULATION STDDEV COUNT_DISTINCT COUNT_UNIQUE PRODUCT UNIQUE
SORTED_UNIQUE SORTED SLICE REVERSE FIRST LAST NTH POSITION CONTAINS_ARRAY PUSH APPEND POP
SHIFT UNSHIFT REMOVE_VALUE REMOVE_VALUES REMOVE_NTH REPLACE_NTH INTERLEAVE DECAY_GAUSS
DECAY_EXP DECAY_LINEAR MINHASH COSINE_SIMILARITY L1_DISTANCE L2_DISTANCE CALL APPLY HAS
ATTRIBUTES KEYS VALUES VALUE MERGE MERGE_RECURSIVE MATCHES UNSET UNSET_RECURSIVE KEEP
KEEP_RECURSIVE TRANSLATE ZIP JSON_STRINGIFY JSON_PARSE DOCUMENT DISTANCE IS_IN_POLYGON
GEO_DISTANCE GEO_CONTAINS GEO_INTERSECTS GEO_EQUALS GEO_AREA GEO_IN_RANGE GEO_POINT
GEO_MULTIPOINT GEO_POLYGON GEO_MULTIPOLYGON GEO_LINESTRING GEO_MULTILINESTRING DATE_TIMESTAMP
DATE_ISO8601 DATE_DAYOFWEEK DATE_YEAR DATE_MONTH DATE_DAY DATE_HOUR DATE_MINUTE DATE_SECOND
DATE_MILLISECOND DATE_DAYOFYEAR DATE_ISOWEEK DATE_ISOWEEKYEAR DATE_LEAPYEAR DATE_QUARTER
DATE_DAYS_IN_MONTH DATE_ADD DATE_SUBTRACT DATE_DIFF DATE_COMPARE DATE_FORMAT DATE_TRUNC
DATE_UTCTOLOCAL DATE_LOCALTOUTC DATE_TIMEZONE DATE_TIMEZONES DATE_ROUND DATE_NOW PASSTHRU
NOT_NULL FIRST_LIST FIRST_DOCUMENT PARSE_IDENTIFIER PARSE_KEY PARSE_COLLECTION
IS_SAME_COLLECTION DECODE_REV SHARD_ID SCHEMA_GET SCHEMA_VALIDATE VERSION FAIL NOOPT NOEVAL
SLEEP COLLECTIONS CURRENT_USER CURRENT_DATABASE CHECK_DOCUMENT COLLECTION_COUNT PREGEL_RESULT
ASSERT WARN NEAR WITHIN WITHIN_RECTANGLE FULLTEXT STARTS_WITH EXISTS ANALYZER BOOST PHRASE
TOKENS BM25 TFIDF OFFSET_INFO APPROX_NEAR_COSINE APPROX_NEAR_L2 APPROX_NEAR_INNER_PRODUCT
""".split())


class Function:
    """An implemented function: ArangoDB's arity, and whether an argument may
    name a collection (``h`` in ArangoDB's signatures) or it reads documents."""

    def __init__(self, impl: Callable, min_args: int, max_args: Optional[int],
                 collection_args: tuple = (), reads_documents: bool = False) -> None:
        self.impl, self.min_args, self.max_args = impl, min_args, max_args
        self.collection_args = collection_args
        self.reads_documents = reads_documents


FUNCTIONS: dict[str, Function] = {}


def function(names: str, min_args: int, max_args: Optional[int] = -1, **kw):
    """Register ``impl(ctx, name, args)`` under each of ``names``."""
    top = min_args if max_args == -1 else max_args

    def register(impl):
        for name in names.split():
            FUNCTIONS[name] = Function(impl, min_args, top, **kw)
        return impl
    return register


def bad_argument(ctx, name: str) -> None:
    ctx.warn(1542, f"invalid argument type in call to function '{name}()'")
    return None


# ------------------------------------------------------------------ type checks
for _name, _rank in (("IS_NULL", NULL), ("IS_BOOL", BOOL), ("IS_NUMBER", NUMBER),
                     ("IS_STRING", STRING), ("IS_ARRAY", ARRAY), ("IS_LIST", ARRAY),
                     ("IS_OBJECT", OBJECT), ("IS_DOCUMENT", OBJECT)):
    function(_name, 1)(lambda ctx, name, args, _rank=_rank: type_rank(args[0]) == _rank)


@function("IS_DATESTRING", 1)
def _is_datestring(ctx, name, args):
    return isinstance(args[0], str) and dates.parse_date_string(args[0]) is not None


@function("IS_KEY", 1)
def _is_key(ctx, name, args):
    from .storage import valid_key

    return isinstance(args[0], str) and valid_key(args[0])


@function("TYPENAME", 1)
def _typename(ctx, name, args):
    return typename(args[0])


# ------------------------------------------------------------------------ casts
function("TO_NUMBER", 1)(lambda ctx, name, args: to_number(args[0]))
function("TO_STRING", 1)(lambda ctx, name, args: to_string(args[0]))
function("TO_BOOL", 1)(lambda ctx, name, args: to_bool(args[0]))
function("TO_ARRAY TO_LIST", 1)(lambda ctx, name, args: list(to_array(args[0])))


# ---------------------------------------------------------------------- strings
@function("CONCAT", 1, None)
def _concat(ctx, name, args):
    if len(args) == 1 and isinstance(args[0], list):
        args = args[0]
    return "".join(to_string(a) for a in args if a is not None)


@function("CONCAT_SEPARATOR", 2, None)
def _concat_separator(ctx, name, args):
    separator, rest = to_string(args[0]), args[1:]
    if len(rest) == 1 and isinstance(rest[0], list):
        rest = rest[0]
    return separator.join(to_string(a) for a in rest if a is not None)


@function("CHAR_LENGTH", 1)
def _char_length(ctx, name, args):
    return len(to_string(args[0]))


function("LOWER", 1)(lambda ctx, name, args: to_string(args[0]).lower())
function("UPPER", 1)(lambda ctx, name, args: to_string(args[0]).upper())


@function("SUBSTRING", 2, 3)
def _substring(ctx, name, args):
    text = to_string(args[0])
    offset = int(to_number(args[1]))
    if offset < 0:
        offset = max(0, len(text) + offset)
    if len(args) > 2 and args[2] is not None:
        length = int(to_number(args[2]))
        if length < 0:
            return text[offset:len(text) + length] if len(text) + length > offset else ""
        return text[offset:offset + length]
    return text[offset:]


@function("LEFT", 2)
def _left(ctx, name, args):
    return to_string(args[0])[:max(0, int(to_number(args[1])))]


@function("RIGHT", 2)
def _right(ctx, name, args):
    n = max(0, int(to_number(args[1])))
    text = to_string(args[0])
    return text[len(text) - n:] if n else ""


@function("CONTAINS", 2, 3)
def _contains(ctx, name, args):
    text, search = to_string(args[0]), to_string(args[1])
    index = text.find(search)
    if len(args) > 2 and to_bool(args[2]):
        return index
    return index >= 0


@function("STARTS_WITH", 2, 3)
def _starts_with(ctx, name, args):
    if not isinstance(args[0], str):
        return False
    prefixes = args[1] if isinstance(args[1], list) else [args[1]]
    needed = int(to_number(args[2])) if len(args) > 2 and isinstance(args[1], list) else 1
    hits = sum(1 for p in prefixes if isinstance(p, str) and args[0].startswith(p))
    return hits >= max(needed, 1) if prefixes else False


def like_regex(pattern: str, case_insensitive: bool = False) -> re.Pattern:
    """AQL LIKE: ``%`` any run, ``_`` one character, backslash escapes."""
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if c == "%" else "." if c == "_" else re.escape(c))
        i += 1
    return re.compile("".join(out), re.DOTALL | (re.IGNORECASE if case_insensitive else 0))


@function("LIKE", 2, 3)
def _like(ctx, name, args):
    if not isinstance(args[0], str) or not isinstance(args[1], str):
        return False
    insensitive = len(args) > 2 and to_bool(args[2])
    return like_regex(args[1], insensitive).fullmatch(args[0]) is not None


def aql_regex(ctx, pattern: Any, case_insensitive: bool = False) -> Optional[re.Pattern]:
    if not isinstance(pattern, str):
        return None
    try:
        return re.compile(pattern, re.IGNORECASE if case_insensitive else 0)
    except re.error:
        raise QueryError(1543, stage=EXECUTING) from None


@function("REGEX_TEST", 2, 3)
def _regex_test(ctx, name, args):
    regex = aql_regex(ctx, args[1], len(args) > 2 and to_bool(args[2]))
    if regex is None:
        return bad_argument(ctx, name)
    return regex.search(to_string(args[0])) is not None


@function("TRIM LTRIM RTRIM", 1, 2)
def _trim(ctx, name, args):
    text = to_string(args[0])
    how, chars = {"TRIM": 0, "LTRIM": 1, "RTRIM": 2}[name], " \t\r\n"
    if len(args) > 1 and args[1] is not None:
        if name == "TRIM" and isinstance(args[1], (int, float)) and not isinstance(args[1], bool):
            how = int(args[1])
        else:
            chars = to_string(args[1])
    if how == 1:
        return text.lstrip(chars)
    if how == 2:
        return text.rstrip(chars)
    return text.strip(chars)


@function("SPLIT", 1, 3)
def _split(ctx, name, args):
    text = to_string(args[0])
    if len(args) < 2 or args[1] is None:
        return [text]
    separators = args[1] if isinstance(args[1], list) else [args[1]]
    separators = [to_string(s) for s in separators]
    if separators == [""]:
        parts = list(text)
    else:
        pattern = "|".join(re.escape(s) for s in sorted(separators, key=len, reverse=True) if s)
        parts = re.split(pattern, text) if pattern else [text]
    if len(args) > 2 and args[2] is not None:
        limit = int(to_number(args[2]))
        if limit >= 0:
            parts = parts[:limit]
    return parts


@function("SUBSTITUTE", 2, 4)
def _substitute(ctx, name, args):
    text = to_string(args[0])
    if isinstance(args[1], dict):
        mapping, limit_arg = args[1], args[2] if len(args) > 2 else None
    else:
        search = args[1] if isinstance(args[1], list) else [args[1]]
        replace = args[2] if len(args) > 2 else ""
        if isinstance(replace, list):
            replace = replace + [""] * (len(search) - len(replace))
        else:
            replace = [replace] * len(search)
        mapping = dict(zip([to_string(s) for s in search], [to_string(r) for r in replace]))
        limit_arg = args[3] if len(args) > 3 else None
    mapping = {to_string(k): to_string(v) for k, v in mapping.items() if to_string(k)}
    if not mapping:
        return text
    pattern = re.compile("|".join(re.escape(k) for k in sorted(mapping, key=len, reverse=True)))
    count = int(to_number(limit_arg)) if limit_arg is not None else 0
    return pattern.sub(lambda m: mapping[m.group(0)], text, count=max(count, 0))


for _name, _algo in (("MD5", "md5"), ("SHA1", "sha1"), ("SHA256", "sha256"),
                     ("SHA512", "sha512")):
    function(_name, 1)(lambda ctx, name, args, _algo=_algo:
                       hashlib.new(_algo, to_string(args[0]).encode()).hexdigest())

function("UUID", 0)(lambda ctx, name, args: str(uuid.uuid4()))


@function("RANDOM_TOKEN", 1)
def _random_token(ctx, name, args):
    length = int(to_number(args[0]))
    if not 0 <= length <= 65536:
        raise QueryError(10, message="bad parameter", stage=EXECUTING)
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    return "".join(secrets.choice(alphabet) for _ in range(length))


# ---------------------------------------------------------------------- numbers
def _numeric(fn):
    def impl(ctx, name, args):
        try:
            return normalize_number(fn(*[to_number(a) for a in args]))
        except (ValueError, OverflowError, ZeroDivisionError):
            return None
    return impl


function("FLOOR", 1)(_numeric(math.floor))
function("CEIL", 1)(_numeric(math.ceil))
function("ROUND", 1)(_numeric(lambda x: math.floor(x + 0.5)))
function("ABS", 1)(_numeric(abs))
function("SQRT", 1)(_numeric(math.sqrt))
function("POW", 2)(_numeric(lambda a, b: float(a) ** b))
function("RAND", 0)(lambda ctx, name, args: random.random())


@function("RANGE", 2, 3)
def _range(ctx, name, args):
    start, stop = to_number(args[0]), to_number(args[1])
    step = to_number(args[2]) if len(args) > 2 and args[2] is not None else (
        1 if start <= stop else -1)
    if step == 0 or (stop - start) * step < 0:
        return bad_argument(ctx, name) if step == 0 else []
    out, value = [], start
    while (value <= stop) if step > 0 else (value >= stop):
        out.append(normalize_number(value))
        value += step
        if len(out) > 10_000_000:
            raise QueryError(10, message="too many elements for range", stage=EXECUTING)
    return out


def _array_arg(ctx, name, value) -> Optional[list]:
    if not isinstance(value, list):
        bad_argument(ctx, name)
        return None
    return value


@function("MIN MAX", 1)
def _min_max(ctx, name, args):
    values = _array_arg(ctx, name, args[0])
    values = [v for v in values or [] if v is not None]
    if not values:
        return None
    pick = min if name == "MIN" else max
    return pick(values, key=sort_key)


@function("SUM", 1)
def _sum(ctx, name, args):
    values = _array_arg(ctx, name, args[0])
    if values is None:
        return None
    total = 0
    for v in values:
        if v is None:
            continue
        if type_rank(v) != NUMBER:
            return bad_argument(ctx, name)
        total += v
    return normalize_number(total)


@function("AVERAGE AVG", 1)
def _average(ctx, name, args):
    values = _array_arg(ctx, name, args[0])
    if values is None:
        return None
    numbers = [v for v in values if v is not None]
    if any(type_rank(v) != NUMBER for v in numbers):
        return bad_argument(ctx, name)
    return normalize_number(sum(numbers) / len(numbers)) if numbers else None


# ----------------------------------------------------------------------- arrays
@function("LENGTH COUNT", 1)
def _length(ctx, name, args):
    value = args[0]
    t = type_rank(value)
    if t == NULL:
        return 0
    if t == BOOL:
        return 1 if value else 0
    if t == NUMBER:
        return len(to_string(value))
    return len(value)


@function("FIRST LAST", 1)
def _first_last(ctx, name, args):
    values = _array_arg(ctx, name, args[0])
    if not values:
        return None
    return values[0] if name == "FIRST" else values[-1]


@function("NTH", 2)
def _nth(ctx, name, args):
    values = _array_arg(ctx, name, args[0])
    position = to_number(args[1])
    if values is None or position < 0 or position >= len(values):
        return None
    return values[int(position)]


def _unique(values: list) -> list:
    seen, out = set(), []
    for v in values:
        key = canonical(v)
        if key not in seen:
            seen.add(key)
            out.append(v)
    return out


@function("PUSH", 2, 3)
def _push(ctx, name, args):
    values = list(args[0]) if isinstance(args[0], list) else ([] if args[0] is None else None)
    if values is None:
        return bad_argument(ctx, name)
    if len(args) > 2 and to_bool(args[2]) and any(equal(v, args[1]) for v in values):
        return values
    return values + [args[1]]


@function("APPEND", 2, 3)
def _append(ctx, name, args):
    values = list(args[0]) if isinstance(args[0], list) else ([] if args[0] is None else None)
    if values is None:
        return bad_argument(ctx, name)
    more = args[1] if isinstance(args[1], list) else [args[1]]
    if len(args) > 2 and to_bool(args[2]):
        return _unique(values + more)
    return values + more


@function("UNIQUE", 1)
def _unique_fn(ctx, name, args):
    values = _array_arg(ctx, name, args[0])
    return None if values is None else _unique(values)


@function("SORTED SORTED_UNIQUE", 1)
def _sorted(ctx, name, args):
    values = _array_arg(ctx, name, args[0])
    if values is None:
        return None
    out = sorted(values, key=sort_key)
    return _unique(out) if name == "SORTED_UNIQUE" else out


@function("COUNT_DISTINCT COUNT_UNIQUE", 1)
def _count_distinct(ctx, name, args):
    values = _array_arg(ctx, name, args[0])
    return None if values is None else len(_unique(values))


@function("SLICE", 2, 3)
def _slice(ctx, name, args):
    values = _array_arg(ctx, name, args[0])
    if values is None:
        return None
    start = int(to_number(args[1]))
    if start < 0:
        start = max(0, len(values) + start)
    if len(args) > 2 and args[2] is not None:
        length = int(to_number(args[2]))
        end = start + length if length >= 0 else len(values) + length
        return values[start:max(start, end)]
    return values[start:]


@function("REVERSE", 1)
def _reverse(ctx, name, args):
    if isinstance(args[0], str):
        return args[0][::-1]
    values = _array_arg(ctx, name, args[0])
    return None if values is None else values[::-1]


@function("FLATTEN", 1, 2)
def _flatten(ctx, name, args):
    values = _array_arg(ctx, name, args[0])
    if values is None:
        return None
    depth = int(to_number(args[1])) if len(args) > 1 else 1

    def flat(items, level):
        out = []
        for v in items:
            if isinstance(v, list) and level > 0:
                out.extend(flat(v, level - 1))
            else:
                out.append(v)
        return out
    return flat(values, depth)


@function("POSITION CONTAINS_ARRAY", 2, 3)
def _position(ctx, name, args):
    values = _array_arg(ctx, name, args[0])
    if values is None:
        return None
    for i, v in enumerate(values):
        if equal(v, args[1]):
            return i if len(args) > 2 and to_bool(args[2]) else True
    return -1 if len(args) > 2 and to_bool(args[2]) else False


@function("REMOVE_VALUE", 2, 3)
def _remove_value(ctx, name, args):
    values = _array_arg(ctx, name, args[0])
    if values is None:
        return None
    limit = int(to_number(args[2])) if len(args) > 2 and args[2] is not None else -1
    out = []
    for v in values:
        if limit != 0 and equal(v, args[1]):
            limit -= 1
            continue
        out.append(v)
    return out


@function("UNION UNION_DISTINCT INTERSECTION MINUS", 2, None)
def _set_ops(ctx, name, args):
    arrays = []
    for a in args:
        if not isinstance(a, list):
            return bad_argument(ctx, name)
        arrays.append(a)
    if name == "UNION":
        return [v for a in arrays for v in a]
    if name == "UNION_DISTINCT":
        return _unique([v for a in arrays for v in a])
    first = _unique(arrays[0])
    others = [{canonical(v) for v in a} for a in arrays[1:]]
    if name == "INTERSECTION":
        return [v for v in first if all(canonical(v) in o for o in others)]
    return [v for v in first if not any(canonical(v) in o for o in others)]


# -------------------------------------------------------------------- documents
def _object_arg(ctx, name, value) -> Optional[dict]:
    if not isinstance(value, dict):
        bad_argument(ctx, name)
        return None
    return value


@function("HAS", 2)
def _has(ctx, name, args):
    return isinstance(args[0], dict) and to_string(args[1]) in args[0]


@function("ATTRIBUTES KEYS", 1, 3)
def _attributes(ctx, name, args):
    doc = _object_arg(ctx, name, args[0])
    if doc is None:
        return None
    names = list(doc)
    if len(args) > 1 and to_bool(args[1]):
        names = [n for n in names if not n.startswith("_")]
    if len(args) > 2 and to_bool(args[2]):
        names.sort()
    return names


@function("VALUES", 1, 2)
def _values(ctx, name, args):
    doc = _object_arg(ctx, name, args[0])
    if doc is None:
        return None
    hide = len(args) > 1 and to_bool(args[1])
    return [v for k, v in doc.items() if not (hide and k.startswith("_"))]


def merge_recursive(a: dict, b: dict) -> dict:
    out = dict(a)
    for k, v in b.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge_recursive(out[k], v)
        else:
            out[k] = v
    return out


@function("MERGE MERGE_RECURSIVE", 1, None)
def _merge(ctx, name, args):
    if len(args) == 1 and isinstance(args[0], list):
        args = args[0]
    out: dict = {}
    for a in args:
        if not isinstance(a, dict):
            return bad_argument(ctx, name)
        out = merge_recursive(out, a) if name == "MERGE_RECURSIVE" else {**out, **a}
    return out


def _names(args) -> set:
    names = set()
    for a in args:
        for n in (a if isinstance(a, list) else [a]):
            names.add(to_string(n))
    return names


@function("UNSET KEEP", 2, None)
def _unset_keep(ctx, name, args):
    doc = _object_arg(ctx, name, args[0])
    if doc is None:
        return None
    names = _names(args[1:])
    if name == "UNSET":
        return {k: v for k, v in doc.items() if k not in names}
    return {k: v for k, v in doc.items() if k in names}


@function("MATCHES", 2, 3)
def _matches(ctx, name, args):
    doc = args[0]
    examples = args[1] if isinstance(args[1], list) else [args[1]]
    for i, example in enumerate(examples):
        if isinstance(doc, dict) and isinstance(example, dict) and all(
                k in doc and equal(doc[k], v) for k, v in example.items()):
            return i if len(args) > 2 and to_bool(args[2]) else True
    return -1 if len(args) > 2 and to_bool(args[2]) else False


@function("ZIP", 2)
def _zip(ctx, name, args):
    if not isinstance(args[0], list) or not isinstance(args[1], list) or \
            len(args[0]) != len(args[1]):
        return bad_argument(ctx, name)
    return {to_string(k): v for k, v in zip(args[0], args[1])}


function("JSON_STRINGIFY", 1)(lambda ctx, name, args: dumps(args[0]))


@function("JSON_PARSE", 1)
def _json_parse(ctx, name, args):
    if not isinstance(args[0], str):
        return bad_argument(ctx, name)
    try:
        return json.loads(args[0])
    except ValueError:
        return bad_argument(ctx, name)


@function("DOCUMENT", 1, 2, collection_args=(0,), reads_documents=True)
def _document(ctx, name, args):
    if len(args) == 1:
        collection, ids = None, args[0]
    else:
        if not isinstance(args[0], str):
            return bad_argument(ctx, name)
        collection, ids = args[0], args[1]
    if isinstance(ids, str):
        return ctx.document(collection, ids)
    if isinstance(ids, dict) and isinstance(ids.get("_id"), str) and collection is None:
        return ctx.document(None, ids["_id"])
    if isinstance(ids, list):
        found = []
        for identifier in ids:
            if isinstance(identifier, dict):
                identifier = identifier.get("_id")
            if isinstance(identifier, str):
                doc = ctx.document(collection, identifier)
                if doc is not None:
                    found.append(doc)
        return found
    return [] if len(args) == 2 and isinstance(ids, list) else None


@function("COLLECTION_COUNT", 1, collection_args=(0,), reads_documents=True)
def _collection_count(ctx, name, args):
    if not isinstance(args[0], str):
        return bad_argument(ctx, name)
    return ctx.collection_count(args[0])


@function("PARSE_IDENTIFIER", 1)
def _parse_identifier(ctx, name, args):
    value = args[0].get("_id") if isinstance(args[0], dict) else args[0]
    if not isinstance(value, str) or "/" not in value:
        return bad_argument(ctx, name)
    collection, _, key = value.partition("/")
    return {"collection": collection, "key": key}


@function("PARSE_KEY PARSE_COLLECTION", 1)
def _parse_part(ctx, name, args):
    parsed = _parse_identifier(ctx, name, args)
    if parsed is None:
        return None
    return parsed["key"] if name == "PARSE_KEY" else parsed["collection"]


# ------------------------------------------------------------------------ dates
function("DATE_NOW", 0)(lambda ctx, name, args: int(time.time() * 1000))


def _epoch_ms(ctx, name, args) -> Optional[int]:
    """The moment the arguments name: one date value, or date components."""
    if len(args) > 1:
        try:
            parts = [int(to_number(a)) for a in args]
        except (ValueError, OverflowError):
            return None
        return dates.components_ms(*parts)
    return dates.to_epoch_ms(args[0])


@function("DATE_ISO8601", 1, 7)
def _date_iso8601(ctx, name, args):
    ms = _epoch_ms(ctx, name, args)
    if ms is None:
        ctx.warn(1572, "invalid date value")
        return None
    return dates.iso8601(ms)


@function("DATE_TIMESTAMP", 1, 7)
def _date_timestamp(ctx, name, args):
    ms = _epoch_ms(ctx, name, args)
    if ms is None:
        ctx.warn(1572, "invalid date value")
        return None
    return ms


# ------------------------------------------------------------------------- misc
@function("NOT_NULL", 1, None)
def _not_null(ctx, name, args):
    return next((a for a in args if a is not None), None)


@function("FIRST_LIST", 1, None)
def _first_list(ctx, name, args):
    return next((a for a in args if isinstance(a, list)), None)


@function("FIRST_DOCUMENT", 1, None)
def _first_document(ctx, name, args):
    return next((a for a in args if isinstance(a, dict)), None)


function("PASSTHRU NOOPT NOEVAL", 1)(lambda ctx, name, args: args[0])
function("CURRENT_DATABASE", 0)(lambda ctx, name, args: ctx.database_name)
function("CURRENT_USER", 0)(lambda ctx, name, args: ctx.user)
function("VERSION", 0)(lambda ctx, name, args: ctx.server_version)


@function("FAIL", 0, 1)
def _fail(ctx, name, args):
    reason = to_string(args[0]) if args else ""
    raise QueryError(1569, reason, stage=EXECUTING)


@function("SLEEP", 1)
def _sleep(ctx, name, args):
    seconds = to_number(args[0])
    if seconds < 0:
        return bad_argument(ctx, name)
    time.sleep(min(seconds, 5))
    return None
