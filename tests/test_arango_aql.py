"""The emulated ArangoDB's AQL, checked against ArangoDB's documented behaviour.

The server runs as a real process on a free port; every query goes over
HTTP (``POST /_api/cursor``). Expected values come from ArangoDB's AQL
documentation (type and value order, operators, high-level operations,
error codes), not from the implementation.
"""

from __future__ import annotations

import json
import string

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from celery_conformance.containers.arangodb import start_emulator


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    store = start_emulator(str(tmp_path_factory.mktemp("arango-aql")))
    yield store
    store.stop()


@pytest.fixture(scope="module")
def db(server):
    """A database with an empty collection ``c`` and a second one, ``d``."""
    info = server.connection_info()
    session = requests.Session()
    session.auth = (info["username"], info["password"])
    name = server.new_namespace_name("aql")
    assert session.post(f"{server.base_url}/_api/database", json={"name": name}).status_code == 201
    for collection in ("c", "d"):
        session.post(f"{server.base_url}/_db/{name}/_api/collection", json={"name": collection})
    return Db(session, f"{server.base_url}/_db/{name}")


class Db:
    def __init__(self, session: requests.Session, url: str) -> None:
        self.session, self.url = session, url

    def run(self, query: str, bind: dict | None = None, **body) -> requests.Response:
        payload = {"query": query, **body}
        if bind is not None:
            payload["bindVars"] = bind
        return self.session.post(f"{self.url}/_api/cursor", json=payload)

    def query(self, query: str, **bind) -> list:
        """All results of ``query``; fails on an error answer."""
        response = self.run(query, bind)
        body = response.json()
        assert response.status_code == 201, body
        results = list(body["result"])
        while body["hasMore"]:
            body = self.session.put(f"{self.url}/_api/cursor/{body['id']}").json()
            results.extend(body["result"])
        return results

    def value(self, expression: str, **bind):
        [result] = self.query(f"RETURN {expression}", **bind)
        return result

    def error(self, query: str, **bind) -> tuple[int, int, str]:
        """(HTTP status, errorNum, errorMessage) of a query that must fail."""
        response = self.run(query, bind)
        body = response.json()
        assert body["error"] is True, body
        assert body["code"] == response.status_code
        return response.status_code, body["errorNum"], body["errorMessage"]

    def clear(self, *collections: str) -> None:
        for name in collections or ("c", "d"):
            assert self.session.put(f"{self.url}/_api/collection/{name}/truncate").ok


# --------------------------------------------------------- type and value order
#: the documented chain "null < false < true < 0 < '' < ' ' < '0' < 'abc' < [] < {}"
DOCUMENTED_ORDER = [None, False, True, 0, "", " ", "0", "abc", [], {}]


def test_documented_type_order_holds_for_every_pair(db):
    pairs = [[a, b] for i, a in enumerate(DOCUMENTED_ORDER) for b in DOCUMENTED_ORDER[i + 1:]]
    results = db.query("FOR p IN @pairs RETURN [p[0] < p[1], p[1] < p[0], p[0] == p[1]]",
                       pairs=pairs)
    assert results == [[True, False, False]] * len(pairs)


@pytest.mark.parametrize("expression", [
    "[] < [0]", "[1] < [2]", "[1, 2] < [2]", "[99, 99] < [100]", "[false] < [true]",
    "[false, 1] < [false, '']",
    "{} == {a: null}", "{} < {a: 1}", "{a: 1} < {a: 2}", "{b: 1} < {a: 0}",
    "{a: {c: true}} < {a: {c: 0}}", "{a: {c: true, a: 0}} < {a: {c: false, a: 1}}",
    "{a: 1, b: 2} == {b: 2, a: 1}",
])
def test_documented_compound_comparisons(db, expression):
    assert db.value(expression) is True


@pytest.mark.parametrize("expression, expected", [
    ("0 == null", False), ("1 > 0", True), ("true != null", True), ("45 <= 'yikes!'", True),
    ("65 != '65'", True), ("65 == 65", True), ("1.23 > 1.32", False),
    ("1.5 IN [2, 3, 1.5]", True), ("'foo' IN null", False), ("42 NOT IN [17, 40, 50]", True),
    ("'abc' == 'abc'", True), ("'abc' == 'ABC'", False), ("'foo' LIKE 'f%'", True),
    ("'foo' NOT LIKE 'f%'", False), ("'foo' =~ '^f[o].$'", True),
    ("'foo' !~ '[a-z]+bar$'", True), ("'abc' LIKE '_bc'", True),
    ("'a_b_foo' LIKE 'a\\\\_b\\\\_foo'", True), ("1 == 1.0", True),
])
def test_documented_comparison_operators(db, expression, expected):
    assert db.value(expression) is expected


def test_strings_order_by_code_point_as_the_default_language_en_US_POSIX_does(db):
    assert db.query("FOR s IN ['b', 'B', 'a', 'A', '_', '0', 'aa', ''] SORT s RETURN s") == \
        ["", "0", "A", "B", "_", "a", "aa", "b"]


def test_non_ascii_string_order_is_refused_not_guessed(db):
    """en_US_POSIX collation orders printable ASCII by code point, anything else
    by ICU's root collation ("é" after "z"), which the emulator refuses to guess;
    equality (identical strength) is canonical equivalence, always decided."""
    for query in ("RETURN 'é' < 'z'", "RETURN 'a\u0001' > 'a'",
                  "FOR s IN ['b', 'é'] SORT s RETURN s",
                  "RETURN {'é': 1, a: 2} < {'é': 1, a: 3}"):
        status, num, message = db.error(query)
        assert (status, num) == (501, 9), (query, message)
    assert db.value("'été' == 'été' && '日本' IN ['日本']") is True
    assert db.value("'é' == 'e' || 'a\u0001' == 'a' || 'ZÂ\u009eD' == 'SUCCESS'") is False
    assert db.value("'é' != 'e' && 'x\u00e9' == 'xe\u0301'") is True
    # canonically equivalent strings are one value for ArangoDB's collation
    assert db.query("RETURN LENGTH((FOR s IN [@a, @b] RETURN DISTINCT s))",
                    a="é", b="e\u0301") == [1]


def model_compare(a, b) -> int:
    """AQL's documented order, written from the documentation's text."""
    def rank(v):
        for i, kind in enumerate((type(None), bool, (int, float), str, list, dict)):
            if isinstance(v, kind) and not (i == 2 and isinstance(v, bool)):
                return i
        raise TypeError(v)
    ra, rb = rank(a), rank(b)
    if ra != rb:
        return (ra > rb) - (ra < rb)
    if ra == 4:
        longest = max(len(a), len(b))
        padded_a = a + [None] * (longest - len(a))
        padded_b = b + [None] * (longest - len(b))
        return next((c for c in map(model_compare, padded_a, padded_b) if c), 0)
    if ra == 5:
        for name in sorted(set(a) | set(b)):
            c = model_compare(a.get(name), b.get(name))
            if c:
                return c
        return 0
    if ra == 0:
        return 0   # null is equal to null
    return (a > b) - (a < b)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2 ** 53, 2 ** 53)
    | st.floats(allow_nan=False, allow_infinity=False, width=32)
    | st.text(string.printable, max_size=4),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.sampled_from("abc"), inner, max_size=3),
    max_leaves=8)

settle = settings(max_examples=40, deadline=None,
                  suppress_health_check=[HealthCheck.function_scoped_fixture])


@settle
@given(pairs=st.lists(st.tuples(json_values, json_values), min_size=1, max_size=15))
def test_comparisons_of_random_values_follow_the_documented_order(db, pairs):
    results = db.query("FOR p IN @pairs RETURN [p[0] < p[1], p[0] == p[1], p[0] > p[1]]",
                       pairs=[list(p) for p in pairs])
    expected = [[model_compare(a, b) < 0, model_compare(a, b) == 0, model_compare(a, b) > 0]
                for a, b in pairs]
    assert results == expected


def as_returned(value):
    """A value as JSON shows it after ArangoDB: integral numbers have no fraction."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [as_returned(v) for v in value]
    if isinstance(value, dict):
        return {k: as_returned(v) for k, v in value.items()}
    return value


@settle
@given(values=st.lists(json_values, max_size=20))
def test_sort_orders_random_values_as_documented(db, values):
    result = db.query("FOR v IN @values SORT v RETURN v", values=values)
    assert all(model_compare(x, y) <= 0 for x, y in zip(result, result[1:]))

    def fingerprints(items):
        return sorted(json.dumps(as_returned(v), sort_keys=True) for v in items)
    assert fingerprints(result) == fingerprints(values)


# ----------------------------------------------------- operators and functions
@pytest.mark.parametrize("expression, expected", [
    ("1 + 'a'", 1), ("1 + '99'", 100), ("1 + null", 1), ("null + 1", 1), ("3 + []", 3),
    ("24 + [2]", 26), ("24 + [2, 4]", 24), ("25 - null", 25), ("17 - true", 16),
    ("23 * {}", 0), ("5 * [7]", 35), ("24 / '12'", 2), ("1 / 0", None), ("23 % 7", 2),
    ("-15 % 4", -3),
    ("1 || 7", 1), ("null || 'foo'", "foo"), ("null && true", None), ("true && 23", 23),
    ("25 > 1 && 42 != 7", True), ("u.value ? : 'fallback'", "fallback"),
    ("2010..2013", [2010, 2011, 2012, 2013]),
    ("TO_STRING(null)", ""), ("TO_STRING(123)", "123"), ("TO_STRING(0.0000002)", "2e-7"),
    ("TO_STRING([1, 2, 3])", "[1,2,3]"), ("TO_STRING({foo: 'bar', baz: null})",
                                         '{"foo":"bar","baz":null}'),
    ("TO_NUMBER(' 12 ')", 12), ("TO_NUMBER('x')", 0), ("TO_NUMBER([8])", 8),
    ("TO_NUMBER([8, 9])", 0), ("TO_BOOL('')", False), ("TO_BOOL([])", True),
    ("TO_ARRAY({foo: 1, bar: 2})", [1, 2]), ("LENGTH('abc')", 3), ("LENGTH({a: 1})", 1),
    ("CONCAT('a', null, 1, [2])", "a1[2]"), ("CONCAT(['a', 'b'])", "ab"),
    ("NOT_NULL(null, 0, 1)", 0), ("FIRST([])", None), ("HAS({a: null}, 'a')", True),
    ("KEEP({a: 1, b: 2}, 'a')", {"a": 1}), ("UNSET({a: 1, b: 2}, ['a'])", {"b": 2}),
    ("MERGE({a: 1, b: {x: 1}}, {b: {y: 2}})", {"a": 1, "b": {"y": 2}}),
    ("IS_NULL(null)", True), ("TYPENAME([])", "array"),
    ("[1, 2, 3] ALL IN [2, 3, 4]", False), ("[1, 2, 3] ALL IN [1, 2, 3]", True),
    ("[1, 2, 3] NONE IN [3]", False), ("[1, 2, 3] ANY == 2", True),
    ("[1, 2, 3] NONE > 10", True), ("['foo', 'bar'] ALL != 'moo'", True),
    ("[1, 2, 3] AT LEAST (2) IN [2, 3, 4]", True),
    ("['foo', 'bar'] AT LEAST (1 + 1) == 'foo'", False),
    ("[{a: 1}, {a: 2}, {a: 3}][* FILTER CURRENT.a > 1 RETURN CURRENT.a * 10]", [20, 30]),
    ("[{a: {b: 1}}, {a: {b: 2}}][*].a.b", [1, 2]),
    ("DATE_ISO8601(0)", "1970-01-01T00:00:00.000Z"),
    ("DATE_TIMESTAMP('1970-01-01T00:00:01Z')", 1000),
])
def test_documented_operator_and_function_results(db, expression, expected):
    assert db.query(f"LET u = {{}} RETURN {expression}") == [expected]


def test_division_by_zero_is_null_with_a_warning(db):
    body = db.run("RETURN 1 / 0").json()
    assert body["result"] == [None]
    assert [w["code"] for w in body["extra"]["warnings"]] == [1562]


# --------------------------------------------------------------- bind parameters
def test_collection_bind_parameter_names_the_collection(db):
    db.clear()
    db.query("INSERT {_key: 'k', v: @v} INTO @@coll", v=1, **{"@coll": "c"})
    assert db.query("FOR x IN @@coll RETURN x.v", **{"@coll": "c"}) == [1]
    assert db.value("DOCUMENT(@@coll, 'k').v", **{"@coll": "c"}) == 1


@pytest.mark.parametrize("query, bind, num, message", [
    ("RETURN @x", {}, 1551, "no value specified for declared bind parameter 'x'"),
    ("FOR d IN @@coll RETURN d", {}, 1551,
     "no value specified for declared bind parameter '@coll'"),
    ("RETURN 1", {"x": 1}, 1552, "bind parameter 'x' was not declared in the query"),
    ("FOR d IN @@coll RETURN d", {"@coll": 7}, 1553,
     "bind parameter '@coll' has an invalid value or type"),
])
def test_bind_parameter_errors(db, query, bind, num, message):
    status, error_num, error_message = db.error(query, **bind)
    assert (status, error_num) == (400, num)
    assert error_message == f"AQL: {message} (while parsing)"


def test_bind_parameters_must_be_an_object(db):
    body = db.run("RETURN 1", bind=[1]).json()
    assert (body["code"], body["errorNum"]) == (400, 1550)


# ------------------------------------------------------------ parse-time errors
@pytest.mark.parametrize("query", [
    "FOR x IN [1] RETURN x x",
    "FOR x IN [1] FILTER x",
    "RETURN 1;",
    "FOR x IN [1, 2] COLLECT AGGREGATE total = SUM(x) RETURN total",
    "FOR x IN [1, 2] WINDOW {preceding: 1} AGGREGATE s = SUM(x) RETURN s",
    "FOR v IN 1..2 OUTBOUND 'c/a' GRAPH 'g' RETURN v",
    "FOR v, e IN OUTBOUND 'c/a' d RETURN v",
    "FOR v IN OUTBOUND SHORTEST_PATH 'c/a' TO 'c/b' d RETURN v",
    "FOR doc IN c SEARCH doc.a == 1 RETURN doc",
    "RETURN SOUNDEX('abc')",
    "LET {a} = {a: 1} RETURN a",
    "RETURN [[1, 2], [3]][**]",
    "RETURN [1, 2][? ANY FILTER CURRENT > 1]",
])
def test_aql_outside_the_subset_is_a_parse_error_never_run(db, query):
    db.clear()
    status, num, message = db.error(query)
    assert (status, num) == (400, 1501)
    assert message.startswith("AQL: ") and message.endswith("(while parsing)")


def test_unknown_function_and_wrong_arity(db):
    assert db.error("RETURN NO_SUCH_FUNCTION(1)")[:2] == (400, 1540)
    status, num, message = db.error("RETURN LENGTH(1, 2)")
    assert (status, num) == (400, 1541)
    assert "'LENGTH()'" in message


def test_empty_query_and_unknown_collection(db):
    assert db.error("   ")[:2] == (400, 1502)
    status, num, message = db.error("FOR x IN no_such_collection RETURN x")
    assert (status, num) == (404, 1203)
    assert message == "AQL: collection or view not found: no_such_collection (while parsing)"


def test_collection_used_as_an_operand(db):
    status, num, message = db.error("RETURN CONCAT(@@coll, '/', 'k')", **{"@coll": "c"})
    assert (status, num) == (400, 1568)
    assert "collection 'c' used as expression operand" in message


def test_variable_assigned_twice(db):
    assert db.error("LET a = 1 LET a = 2 RETURN a")[:2] == (400, 1511)


# --------------------------------------------------------- FOR, SORT, LIMIT, ...
def test_sort_by_several_keys_and_directions(db):
    rows = [{"a": 2, "b": "x"}, {"a": 1, "b": "y"}, {"a": 2, "b": "z"}, {"a": 1, "b": "w"}]
    assert db.query("FOR r IN @rows SORT r.a DESC, r.b ASC RETURN r.b", rows=rows) == \
        ["x", "z", "w", "y"]


@pytest.mark.parametrize("limit, expected", [
    ("LIMIT 3", [1, 2, 3]), ("LIMIT 2, 3", [3, 4, 5]), ("LIMIT 8, null", [9, 10]),
    ("LIMIT 0", []), ("LIMIT 20, 5", []),
])
def test_limit_offset_and_count(db, limit, expected):
    assert db.query(f"FOR i IN 1..10 {limit} RETURN i") == expected


def test_limit_must_be_known_at_compile_time(db):
    assert db.error("FOR i IN 1..10 LET n = i LIMIT n RETURN i")[:2] == (400, 1501)


def test_full_count_counts_rows_before_the_last_limit(db):
    body = db.run("FOR i IN 1..10 FILTER i > 2 LIMIT 2 RETURN i",
                  options={"fullCount": True}).json()
    assert body["result"] == [3, 4]
    assert body["extra"]["stats"]["fullCount"] == 8


def test_collect_into_and_with_count(db):
    result = db.query("FOR i IN 1..7 COLLECT parity = i % 2 INTO members = i "
                      "RETURN {parity, members}")
    assert result == [{"parity": 0, "members": [2, 4, 6]},
                      {"parity": 1, "members": [1, 3, 5, 7]}]
    assert db.query("FOR i IN 1..7 COLLECT WITH COUNT INTO n RETURN n") == [7]
    assert db.query("FOR i IN [] COLLECT WITH COUNT INTO n RETURN n") == [0]
    assert db.query("FOR i IN [1, 1, 2] COLLECT v = i WITH COUNT INTO n RETURN [v, n]") == \
        [[1, 2], [2, 1]]


def test_collect_hides_loop_variables(db):
    status, num, _ = db.error("FOR i IN 1..3 COLLECT g = i % 2 RETURN i")
    assert (status, num) == (404, 1203)   # `i` is no variable any more: a collection name


def test_return_distinct_and_subqueries(db):
    assert db.query("FOR i IN [1, 2, 1, '1'] RETURN DISTINCT i") == [1, 2, "1"]
    assert db.query("LET evens = (FOR i IN 1..6 FILTER i % 2 == 0 RETURN i) "
                    "RETURN LENGTH(evens)") == [3]


# ------------------------------------------------------------------ modifications
def test_upsert_inserts_then_updates_with_old_and_new(db):
    db.clear()
    query = ("UPSERT {_key: 'u'} INSERT {_key: 'u', n: 1} UPDATE {n: OLD.n + 1} IN c "
             "RETURN {old: OLD, new: NEW}")
    [first] = db.query(query)
    assert first["old"] is None and first["new"]["n"] == 1
    [second] = db.query(query)
    assert second["old"]["n"] == 1 and second["new"]["n"] == 2
    assert second["new"]["_rev"] != second["old"]["_rev"]
    assert second["new"]["_id"] == "c/u"


def test_upsert_replace_and_filter_form(db):
    db.clear()
    db.query("INSERT {_key: 'r', a: 1, b: 2} INTO c")
    [new] = db.query("UPSERT {_key: 'r'} INSERT {} REPLACE {a: 9} IN c RETURN NEW")
    assert {k: v for k, v in new.items() if not k.startswith("_")} == {"a": 9}
    [new] = db.query("UPSERT FILTER CURRENT.a > 5 INSERT {a: 0} UPDATE {seen: true} IN c "
                     "RETURN NEW")
    assert new["_key"] == "r" and new["seen"] is True


def test_upsert_conditional_update_with_ignore_revs(db):
    db.clear()
    [rev] = db.query("INSERT {_key: 'g', state: 'PENDING'} INTO c RETURN NEW._rev")
    status, num, message = db.error(
        "UPSERT {_key: 'g'} INSERT {} UPDATE {_rev: 'stale', state: 'SUCCESS'} IN c "
        "OPTIONS {ignoreRevs: false}")
    assert (status, num) == (409, 1200)
    assert db.value("DOCUMENT('c/g').state") == "PENDING"
    db.query("UPSERT {_key: 'g'} INSERT {} UPDATE {_rev: @rev, state: 'SUCCESS'} IN c "
             "OPTIONS {ignoreRevs: false}", rev=rev)
    assert db.value("DOCUMENT('c/g').state") == "SUCCESS"


def test_insert_update_replace_remove_with_options(db):
    db.clear()
    assert db.query("INSERT {_key: 'a', x: {y: 1, z: 2}, w: 1} INTO c RETURN NEW.x") == \
        [{"y": 1, "z": 2}]
    assert db.query("UPDATE 'a' WITH {x: {y: null}, w: null} IN c OPTIONS {keepNull: false} "
                    "RETURN UNSET(NEW, '_key', '_id', '_rev')") == [{"x": {"z": 2}}]
    assert db.query("UPDATE {_key: 'a'} WITH {x: {q: 1}} IN c OPTIONS {mergeObjects: false} "
                    "RETURN NEW.x") == [{"q": 1}]
    assert db.query("REPLACE 'a' WITH {only: true} IN c RETURN ATTRIBUTES(NEW, true)") == \
        [["only"]]
    assert db.query("INSERT {_key: 'a', v: 2} INTO c OPTIONS {overwriteMode: 'update'} "
                    "RETURN [OLD.only, NEW.only, NEW.v]") == [[True, True, 2]]
    body = db.run("INSERT {_key: 'a', v: 3} INTO c OPTIONS {overwriteMode: 'ignore'} "
                  "RETURN [OLD, NEW]").json()
    assert body["result"] == [[None, None]]
    assert body["extra"]["stats"]["writesIgnored"] == 1
    assert db.value("DOCUMENT('c/a').v") == 2
    assert db.query("REMOVE 'a' IN c RETURN OLD._key") == ["a"]
    assert db.query("FOR x IN c RETURN x") == []


@pytest.mark.parametrize("text, expected", [
    ("2014-05-07T14:19:09.522Z", 1399472349522), ("2014-05-07 14:19:09.522", 1399472349522),
    ("2014-05-07T14:19:09+01:00", 1399468749000), ("2014-05-07Z", 1399420800000),
    ("0000-01-01T00:00:00.000Z", -62167219200000), ("9999-12-31T23:59:59.999Z", 253402300799999),
    ("2001-1-5", 978652800000), ("2001", 978307200000), ("2014-05-07T14:19", 1399472340000),
    ("2014-05-07T14:19:09.5228Z", 1399472349522), (" +2001-01-01 ", 978307200000),
    ("2014-05-07T14:19:09+0000", None), ("2014-05-07T14:19:09+00", None),
    ("-2001-01-01", None), ("2014-05-07T24:00:00", None), ("2014-13-01", None),
    ("9999-12-31T23:00:00-02:00", None), ("tomorrow", None), ("", None),
])
def test_date_strings_are_read_as_arangodb_reads_them(db, text, expected):
    assert db.value("DATE_TIMESTAMP(@t)", t=text) == expected
    assert db.value("IS_DATESTRING(@t)", t=text) is (expected is not None)


def test_documented_timestamp_range(db):
    assert db.value("DATE_ISO8601(-62167219200000)") == "0000-01-01T00:00:00.000Z"
    assert db.value("DATE_ISO8601(253402300799999)") == "9999-12-31T23:59:59.999Z"
    assert db.value("[DATE_ISO8601(-62167219200001), DATE_ISO8601(253402300800000)]") == \
        [None, None]


def test_modification_keys_come_from_key_not_id(db):
    db.clear()
    db.query("INSERT {_key: 'x'} INTO c")
    for query in ("REMOVE {_id: 'c/x'} IN c", "UPDATE {_id: 'c/x'} WITH {v: 1} IN c"):
        assert db.error(query)[:2] == (400, 1226)
    assert db.query("FOR d IN c RETURN [d._key, d.v]") == [["x", None]]


def test_remove_of_a_missing_document(db):
    db.clear()
    status, num, message = db.error("REMOVE {_key: 'missing'} IN c")
    assert (status, num, message) == (404, 1202, "AQL: document not found (while executing)")
    body = db.run("REMOVE {_key: 'missing'} IN c OPTIONS {ignoreErrors: true}").json()
    assert body["result"] == []
    assert body["extra"]["stats"]["writesIgnored"] == 1


def test_duplicate_key_and_illegal_key(db):
    db.clear()
    db.query("INSERT {_key: 'dup'} INTO c")
    status, num, message = db.error("INSERT {_key: 'dup'} INTO c")
    assert (status, num) == (409, 1210)
    assert message.startswith("AQL: unique constraint violated")
    assert db.error("INSERT {_key: 'no spaces'} INTO c")[:2] == (400, 1221)
    assert db.error("INSERT 'not a document' INTO c")[:2] == (400, 1227)


def test_a_failing_query_writes_nothing(db):
    db.clear()
    db.query("INSERT {_key: 'n3'} INTO c")
    assert db.error("FOR i IN 1..3 INSERT {_key: CONCAT('n', i)} INTO c")[:2] == (409, 1210)
    assert db.query("FOR x IN c RETURN x._key") == ["n3"]


@pytest.mark.parametrize("query, culprit", [
    ("FOR x IN c REMOVE x IN c FOR y IN c RETURN y", "collection 'c'"),
    ("REMOVE 'a' IN c REMOVE 'b' IN c", "collection 'c'"),
    ("INSERT {} INTO c RETURN DOCUMENT('c/x')", "function DOCUMENT"),
    ("FOR x IN c LET gone = (REMOVE x IN c) RETURN gone", "collection 'c'"),
])
def test_access_after_data_modification(db, query, culprit):
    db.clear()
    status, num, message = db.error(query)
    assert (status, num) == (400, 1579)
    assert f"access after data-modification by {culprit}" in message


def test_modifying_two_collections_is_allowed_but_nesting_is_not(db):
    db.clear()
    assert db.query("INSERT {_key: 'x'} INTO c INSERT {_key: 'y'} INTO d RETURN 1") == [1]
    assert db.error("INSERT {a: (INSERT {} INTO d RETURN 1)} INTO c")[:2] == (400, 1573)


def test_celery_queries_verbatim(db):
    """The AQL Celery 5.7's ArangoDbBackend sends, as it sends it."""
    db.clear()
    coll = {"@collection": "c"}
    db.query("""
            UPSERT {_key: @key}
            INSERT {_key: @key, task: @value}
            UPDATE {task: @value} IN @@collection
            """, key="t1", value={"status": "SUCCESS", "date_done": "2020-01-01T00:00:00"},
             **coll)
    assert db.query("RETURN DOCUMENT(@@collection, @key).task", key="t1", **coll) == \
        [{"status": "SUCCESS", "date_done": "2020-01-01T00:00:00"}]
    assert db.query("FOR k IN @keys RETURN DOCUMENT(@@collection, k).task",
                    keys=["t1", "t2"], **coll) == [
        {"status": "SUCCESS", "date_done": "2020-01-01T00:00:00"}, None]
    db.query("""
            FOR record IN @@collection
                FILTER record.task.date_done < @checkpoint
                REMOVE record IN @@collection
            """, checkpoint="2021-01-01T00:00:00", **coll)
    assert db.query("FOR x IN c RETURN x") == []
    db.query("REMOVE {_key: @key} IN @@collection OPTIONS { ignoreErrors: true }",
             key="t1", **coll)
