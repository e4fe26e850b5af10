"""Places where the emulated ArangoDB must answer as ArangoDB 3.12 does, or refuse loudly.

Expected answers come from ArangoDB's HTTP API documentation and the example
transcripts it was generated from (a real 3.12 server): bulk document
operations, document selectors, import, cursors, users, naming rules and TTL
indexes. Anything the emulator does not implement must fail with an
ArangoDB-style error, never be accepted and ignored.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from urllib.parse import quote

import pytest
import requests

# the emulator and its root password, started once per module as there
from test_arango_emulator import password, server  # noqa: F401

ERROR_FIELDS = {"error", "errorNum", "errorMessage"}


@pytest.fixture(scope="module")
def root(server, password):
    session = requests.Session()
    session.auth = ("root", password)
    return session


@pytest.fixture
def db(server, root):
    """The URL of a fresh database with the collections ``products`` and ``other``."""
    name = server.new_namespace_name("fidelity")
    assert root.post(f"{server.base_url}/_api/database", json={"name": name}).status_code == 201
    url = f"{server.base_url}/_db/{name}"
    for collection in ("products", "other"):
        assert root.post(f"{url}/_api/collection", json={"name": collection}).ok
    yield url
    root.delete(f"{server.base_url}/_api/database/{name}")


def assert_error(response: requests.Response, status: int, num: int) -> dict:
    body = response.json()
    assert response.status_code == status, body
    assert body["error"] is True and body["code"] == status and body["errorNum"] == num, body
    return body


def count(root, db, collection="products") -> int:
    return root.get(f"{db}/_api/collection/{collection}/count").json()["count"]


# ----------------------------------------------------------- bulk operations
def test_bulk_error_items_carry_only_error_fields(root, db):
    url = f"{db}/_api/document/products"
    created = root.post(url, json=[{"_key": "1"}, {"_key": "1"}, {"_key": "bad key"}]).json()
    rev = created[0]["_rev"]
    answers = [
        created[1], created[2],
        root.put(url, json=[{"_key": "1", "_rev": "_stale"}],
                 params={"ignoreRevs": "false"}).json()[0],
        root.patch(url, json=[{"_key": "missing"}]).json()[0],
        root.delete(url, json=[{"_key": "1", "_rev": "_stale"}],
                    params={"ignoreRevs": "false"}).json()[0],
        root.put(url, json=["missing"], params={"onlyget": "true"}).json()[0],
    ]
    assert [a["errorNum"] for a in answers] == [1210, 1221, 1200, 1202, 1200, 1202]
    assert all(set(a) == ERROR_FIELDS and a["error"] is True for a in answers), answers
    assert root.get(f"{url}/1").json()["_rev"] == rev, "a failed item wrote nothing"


def test_python_arango_sees_failed_bulk_items_as_errors(server, password, db):
    from arango import ArangoClient
    from arango.exceptions import ArangoServerError

    name = db.rsplit("/", 1)[1]
    products = ArangoClient(hosts=server.base_url).db(name, "root", password) \
        .collection("products")
    products.insert({"_key": "a", "v": 1})
    stale = {"_key": "a", "_rev": "_stale", "v": 2}
    [updated] = products.update_many([stale], check_rev=True)
    [deleted] = products.delete_many([stale], check_rev=True)
    for failed in (updated, deleted):       # not a success (a dict with _id)
        assert isinstance(failed, ArangoServerError) and failed.error_code == 1200
    assert products.get("a")["v"] == 1


# -------------------------------------------------------- document selectors
def test_documented_selectors_with_document_identifiers(root, db):
    url = f"{db}/_api/document/products"
    metas = root.post(url, json=[{"_key": "1", "type": "tv"},
                                 {"_key": "2", "type": "cookbook"}]).json()
    got = root.put(url, json=["products/1", {"_key": "2"}], params={"onlyget": "true"}).json()
    assert [d["type"] for d in got] == ["tv", "cookbook"]
    removed = root.delete(url, json=["products/1", "products/2"])
    assert removed.status_code == 202 and removed.json() == metas
    # "Unknown documents": the prefix is dropped, so other/2 is looked up in products
    root.post(f"{db}/_api/document/other", json={"_key": "2"})
    unknown = root.delete(url, json=["1", "other/2"])
    assert [a["errorNum"] for a in unknown.json()] == [1202, 1202]
    assert root.get(f"{db}/_api/document/other/2").status_code == 200


def test_selectors_need_a_key(root, db):
    url = f"{db}/_api/document/products"
    root.post(url, json={"_key": "k", "v": 1})
    selectors = [{"_id": "products/k", "v": 2}, "products/"]
    expected = {  # an object without _key is no selector; PUT and PATCH take objects only
        ("DELETE", False): [1205, 1205], ("PUT", True): [1205, 1205],
        ("PUT", False): [1205, 1227], ("PATCH", False): [1205, 1227]}
    for (method, onlyget), nums in expected.items():
        params = {"onlyget": "true"} if onlyget else {}
        answer = root.request(method, url, json=selectors, params=params).json()
        assert [a.get("errorNum") for a in answer] == nums, (method, answer)
    assert root.get(f"{url}/k").json()["v"] == 1


# --------------------------------------------------- options never ignored
def test_documented_import_with_complete_fails_whole(root, db):
    body = ('{ "_key": "abc", "value1": 25, "value2": "test" }\n'
            '{ "_key": "abc", "value1": "bar", "value2": "baz" }')
    params = {"collection": "products", "type": "documents"}
    failed = root.post(f"{db}/_api/import", data=body, params={**params, "complete": "true"})
    assert failed.json() == {"code": 409, "error": True, "errorNum": 1210,
                             "errorMessage": "unique constraint violated"}
    assert count(root, db) == 0, "a failed complete import leaves nothing behind"
    partial = root.post(f"{db}/_api/import", data=body + "\n\n",
                        params={**params, "details": "true"})
    assert partial.status_code == 201
    assert partial.json() == {
        "error": False, "code": 201, "created": 1, "errors": 1, "empty": 1, "updated": 0,
        "ignored": 0, "details": [
            "at position 1: creating document failed with error 'unique constraint "
            "violated', offending document: {\"_key\":\"abc\",\"value1\":\"bar\","
            "\"value2\":\"baz\"}"]}


def test_version_attribute_is_refused_not_ignored(root, db):
    url = f"{db}/_api/document/products"
    root.post(url, json={"_key": "v", "version": 5})
    lower = {"_key": "v", "version": 1}
    for response in (
            root.post(url, json=lower, params={"overwriteMode": "update",
                                               "versionAttribute": "version"}),
            root.put(f"{url}/v", json=lower, params={"versionAttribute": "version"}),
            root.patch(url, json=[lower], params={"versionAttribute": "version"})):
        assert_error(response, 501, 9)
    assert root.get(f"{url}/v").json()["version"] == 5
    query = ("INSERT {_key: 'v', version: 1} INTO products "
             "OPTIONS {overwriteMode: 'update', versionAttribute: 'version'}")
    assert_error(root.post(f"{db}/_api/cursor", json={"query": query}), 400, 1501)


def test_schema_and_computed_values_are_refused_not_ignored(root, db):
    url = f"{db}/_api/collection"
    schema = {"rule": {"properties": {"n": {"type": "number"}}}, "level": "moderate",
              "message": "n must be a number"}
    computed = [{"name": "at", "expression": "RETURN DATE_NOW()", "overwrite": True}]
    assert_error(root.post(url, json={"name": "validated", "schema": schema}), 501, 9)
    assert_error(root.post(url, json={"name": "computed", "computedValues": computed}), 501, 9)
    assert root.get(f"{url}/validated").status_code == 404
    for properties in ({"schema": schema}, {"computedValues": computed}):
        assert_error(root.put(f"{url}/products/properties", json=properties), 501, 9)
    cleared = root.put(f"{url}/products/properties", json={"schema": None,
                                                           "computedValues": []})
    assert cleared.status_code == 200
    assert (cleared.json()["schema"], cleared.json()["computedValues"]) == (None, None)


def test_collection_level_grants_are_refused_not_ignored(server, root, db):
    name = db.rsplit("/", 1)[1]
    user = f"grantee-{name}"
    root.post(f"{server.base_url}/_api/user", json={"user": user, "passwd": "pw"})
    root.put(f"{server.base_url}/_api/user/{user}/database/{name}", json={"grant": "rw"})
    grant = f"{server.base_url}/_api/user/{user}/database/{name}/products"
    assert_error(root.put(grant, json={"grant": "ro"}), 501, 9)
    assert requests.post(f"{db}/_api/document/products", json={},
                         auth=(user, "pw")).status_code == 202


# -------------------------------------------------------------------- cursors
def test_last_batch_of_a_retriable_cursor_carries_no_id(root, db):
    url = f"{db}/_api/cursor"
    first = root.post(url, json={"query": "FOR i IN 1..5 RETURN i", "batchSize": 2,
                                 "options": {"allowRetry": True}}).json()
    cursor = first["id"]
    assert root.post(f"{url}/{cursor}").json()["nextBatchId"] == "3"
    last = root.post(f"{url}/{cursor}/3").json()
    assert (last["result"], last["hasMore"]) == ([5], False)
    assert "id" not in last and "nextBatchId" not in last
    assert root.post(f"{url}/{cursor}/3").json()["result"] == [5]     # the retry
    assert root.delete(f"{url}/{cursor}").status_code == 202
    whole = root.post(url, json={"query": "RETURN 1", "options": {"allowRetry": True}}).json()
    assert whole["hasMore"] is False and "id" not in whole


def test_python_arango_retriable_cursor(server, password, db):
    from arango import ArangoClient

    name = db.rsplit("/", 1)[1]
    client_db = ArangoClient(hosts=server.base_url).db(name, "root", password)
    cursor = client_db.aql.execute("FOR i IN 1..5 RETURN i", batch_size=2, allow_retry=True)
    assert list(cursor) == [1, 2, 3, 4, 5]
    assert cursor.close() is True      # the server kept the cursor for a retry


# ---------------------------------------------------------------------- users
def test_non_root_user_reaching_a_missing_database_gets_401(server, root):
    root.post(f"{server.base_url}/_api/user", json={"user": "wanderer", "passwd": "pw"})
    root.put(f"{server.base_url}/_api/user/wanderer/database/*", json={"grant": "rw"})
    url = f"{server.base_url}/_db/no_such_database/_api/collection"
    assert_error(requests.get(url, auth=("wanderer", "pw")), 401, 11)
    assert_error(root.get(url), 404, 1228)


def test_pyarango_connects_as_a_user_without_system_access(server, root, db):
    from pyArango.connection import Connection

    name = db.rsplit("/", 1)[1]
    user = f"worker-{name}"
    root.post(f"{server.base_url}/_api/user", json={"user": user, "passwd": "pw"})
    root.put(f"{server.base_url}/_api/user/{user}/database/{name}", json={"grant": "rw"})
    own = requests.get(f"{server.base_url}/_api/user/{user}", auth=(user, "pw"))
    assert own.status_code == 200 and own.json()["user"] == user
    assert_error(requests.get(f"{server.base_url}/_api/collection", auth=(user, "pw")), 401, 11)
    conn = Connection(arangoURL=server.base_url, username=user, password="pw")
    products = conn[name]["products"]
    doc = products.createDocument({"_key": "p", "n": 1})
    doc.save()
    assert products["p"]["n"] == 1
    assert root.get(f"{db}/_api/document/products/p").json()["n"] == 1


# ---------------------------------------------------------------------- names
def test_documented_extended_names_are_accepted(server, password, root):
    from arango import ArangoClient

    client = ArangoClient(hosts=server.base_url)
    system = client.db("_system", "root", password)
    database = "España-" + server.new_namespace_name("x")[-6:]
    assert system.create_database(database)
    try:
        unicode_db = client.db(database, "root", password)
        for collection in ("😀", "犬", "كلب", "@abc123", "München"):
            unicode_db.create_collection(collection).insert({"_key": "k", "name": collection})
            assert unicode_db.collection(collection).get("k")["name"] == collection
        assert {c["name"] for c in unicode_db.collections()} >= {"😀", "München"}
        # python-arango puts names into URLs unescaped: "?" needs a client that escapes
        url = f"{server.base_url}/_db/{quote(database)}/_api"
        assert root.post(f"{url}/collection", json={"name": "abc? <> 123!"}).ok
        assert root.post(f"{url}/document/{quote('abc? <> 123!')}",
                         json={"_key": "k"}).status_code == 202
        assert root.get(f"{url}/document/{quote('abc? <> 123!')}/k").json()["_id"] == \
            "abc? <> 123!/k"
    finally:
        system.delete_database(database)


def test_names_outside_the_extended_rules_are_refused(server, root, db):
    bad_names = ["a/b", "a:b", " lead", "trail ", ".dot", "_under", "9lives", "tab\there",
                 "Mu\u0308nchen"]               # the last is not NFC-normalized
    for bad in bad_names:
        assert_error(root.post(f"{server.base_url}/_api/database", json={"name": bad}),
                     400, 1229)
        assert_error(root.post(f"{db}/_api/collection", json={"name": bad}), 400, 1208)
    assert_error(root.post(f"{server.base_url}/_api/database", json={"name": "é" * 65}),
                 400, 1229)                     # 130 bytes: over 128
    assert_error(root.post(f"{db}/_api/collection", json={"name": "é" * 129}), 400, 1208)


# ------------------------------------------------------------------------ TTL
def test_ttl_index_reads_date_strings_as_arangodb_does(root, db):
    root.post(f"{db}/_api/index", params={"collection": "products"},
              json={"type": "ttl", "fields": ["at"], "expireAfter": 0})
    past = datetime.now(timezone.utc) - timedelta(seconds=5)
    stamp = past.strftime("%Y-%m-%dT%H:%M:%S")
    root.post(f"{db}/_api/document/products", json=[
        {"_key": "colon-offset", "at": stamp + "+00:00"},
        {"_key": "no-colon-offset", "at": stamp + "+0000"},     # no date for ArangoDB
        {"_key": "short-date", "at": "2001-1-5"},
        {"_key": "year-only", "at": "2001"},
        {"_key": "negative-year", "at": "-2001-01-01"},          # no date for ArangoDB
    ])
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and count(root, db) > 2:
        time.sleep(0.05)
    left = root.post(f"{db}/_api/cursor", json={
        "query": "FOR d IN products SORT d._key RETURN d._key"}).json()["result"]
    assert left == ["negative-year", "no-colon-offset"]


# ------------------------------------------------------ write-write conflicts
def _contention(server, root, db_url, window):
    name = db_url.rsplit("/_db/", 1)[1]
    response = root.put(f"{server.base_url}/_admin/emulator/contention",
                        json={"database": name, "window": window})
    assert response.status_code == 200, response.text


def _at_once(*requests_):
    """Send each request (a no-argument callable) from its own thread at the same moment."""
    import threading

    barrier = threading.Barrier(len(requests_))
    answers = [None] * len(requests_)

    def send(i):
        barrier.wait()
        answers[i] = requests_[i]()

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(requests_))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return answers


UPSERT = ("\nUPSERT {_key: @key} INSERT {_key: @key, v: @v} UPDATE {v: @v} IN products "
          "RETURN NEW")


def test_overlapping_upserts_of_a_new_key_meet_a_unique_constraint(server, root, db):
    """Two UPSERTs of one new key whose transactions overlap: both snapshots
    lack the document, so the later writer's insert violates the primary
    index (1210, 409) as in ArangoDB, and its write is not applied. (The
    query starts on a new line, as a client's query text often does.)"""
    _contention(server, root, db, 0.2)

    def upsert(v):
        return lambda: root.post(f"{db}/_api/cursor", json={
            "query": UPSERT, "bindVars": {"key": "k1", "v": v}})

    answers = _at_once(upsert(1), upsert(2))
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [201, 409], [a.text for a in answers]
    refused = next(a for a in answers if a.status_code == 409).json()
    assert refused["errorNum"] == 1210
    winner = next(a for a in answers if a.status_code == 201).json()["result"][0]["v"]
    assert root.get(f"{db}/_api/document/products/k1").json()["v"] == winner


def test_overlapping_updates_of_one_document_meet_a_write_write_conflict(server, root, db):
    """Two updates of one document whose transactions overlap: the later
    one fails with 1200 "write-write conflict" (409), as RocksDB reports it."""
    assert root.post(f"{db}/_api/document/products", json={"_key": "k2", "v": 0}).ok
    _contention(server, root, db, 0.2)

    def patch(v):
        return lambda: root.patch(f"{db}/_api/document/products/k2", json={"v": v})

    answers = _at_once(patch(1), patch(2))
    assert sorted(a.status_code for a in answers) == [202, 409], [a.text for a in answers]
    refused = next(a for a in answers if a.status_code == 409).json()
    assert (refused["errorNum"], refused["errorMessage"]) == (1200, "write-write conflict")


def test_writes_that_do_not_overlap_never_conflict(server, root, db):
    """With the contention window on, writes one after another all succeed,
    and a query writing one document twice does not conflict with itself."""
    _contention(server, root, db, 0.05)
    for v in range(3):
        response = root.post(f"{db}/_api/cursor", json={
            "query": UPSERT, "bindVars": {"key": "k3", "v": v}})
        assert response.status_code == 201, response.text
    response = root.post(f"{db}/_api/cursor", json={
        "query": "FOR v IN [1, 2] UPSERT {_key: 'k4'} INSERT {_key: 'k4', v} UPDATE {v} "
                 "IN products RETURN NEW.v"})
    assert response.status_code == 201, response.text
    assert root.get(f"{db}/_api/document/products/k4").json()["v"] == 2


def test_remembered_changes_stay_bounded_and_keep_what_a_running_snapshot_needs():
    """The changes a collection remembers for conflict checks are pruned as
    writes go on, but never one newer than a running request's snapshot: a
    write made after that snapshot still conflicts, however many followed."""
    import threading

    from celery_conformance.containers.arango_emulator.storage import (
        CHANGED_KEYS_KEPT, SNAPSHOTS, ArangoError, Collection, Database)

    products = Collection(Database("bounded"), "products", {})
    for i in range(3 * CHANGED_KEYS_KEPT):
        products.insert({"_key": f"a{i}", "v": 0})
    assert len(products.changed) <= CHANGED_KEYS_KEPT

    snapshot_taken, written = threading.Event(), threading.Event()
    outcome = {}

    def late_writer():
        SNAPSHOTS.begin()
        try:
            snapshot_taken.set()
            written.wait(60)
            products.update("k", {"v": "late"})
        except ArangoError as exc:
            outcome["error"] = exc.num
        finally:
            SNAPSHOTS.end()

    products.insert({"_key": "k", "v": 0})
    thread = threading.Thread(target=late_writer)
    thread.start()
    snapshot_taken.wait(60)
    products.update("k", {"v": "first"})
    for i in range(3 * CHANGED_KEYS_KEPT):
        products.insert({"_key": f"b{i}", "v": 0})
    written.set()
    thread.join(60)
    assert outcome == {"error": 1200}, "a change made after a running snapshot was forgotten"
    assert products.get("k")["v"] == "first"
    assert len(products.changed) <= 8 * CHANGED_KEYS_KEPT


def test_contention_window_is_for_root_only_and_checked(server, root, db):
    """The emulator-only switch refuses a window out of range."""
    name = db.rsplit("/_db/", 1)[1]
    response = root.put(f"{server.base_url}/_admin/emulator/contention",
                        json={"database": name, "window": -1})
    assert_error(response, 400, 10)
