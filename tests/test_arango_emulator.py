"""The emulated ArangoDB's HTTP API, through raw HTTP, python-arango and pyArango.

The server runs as a real process on a free port (TTL sweeps every 0.1 s).
Status codes, error numbers and bodies are those of ArangoDB's HTTP API
documentation and error code list.
"""

from __future__ import annotations

import json
import re
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from celery_conformance.containers.arangodb import start_emulator

KEY_PUNCTUATION = "_-:.@()+,=;$!*'%"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    store = start_emulator(str(tmp_path_factory.mktemp("arango-http")),
                           ("--ttl-frequency", "0.1"))
    yield store
    store.stop()


@pytest.fixture(scope="module")
def password(server):
    return server.connection_info()["password"]


@pytest.fixture(scope="module")
def http(server, password):
    session = requests.Session()
    session.auth = ("root", password)
    return Http(session, server.base_url)


class Http:
    def __init__(self, session, base):
        self.session, self.base = session, base

    def __call__(self, method: str, path: str, **kw) -> requests.Response:
        return self.session.request(method, self.base + path, **kw)


@pytest.fixture
def dbname(server, http):
    """A fresh database with an empty collection ``c``."""
    name = server.new_namespace_name("http")
    assert http("POST", "/_api/database", json={"name": name}).status_code == 201
    assert http("POST", f"/_db/{name}/_api/collection", json={"name": "c"}).status_code == 200
    yield name
    http("DELETE", f"/_api/database/{name}")


def assert_error(response: requests.Response, status: int, num: int) -> dict:
    body = response.json()
    assert response.status_code == status, body
    assert body["error"] is True and body["code"] == status and body["errorNum"] == num, body
    assert isinstance(body["errorMessage"], str) and body["errorMessage"]
    return body


# ------------------------------------------------------------- server, auth
def test_version_says_emulated(http):
    body = http("GET", "/_api/version").json()
    assert (body["server"], body["version"], body["license"]) == ("arango", "3.12.0",
                                                                  "community")
    assert "emulated" in body["details"]["emulated"]


def test_requests_without_valid_credentials_get_401(server, password):
    for auth in (None, ("root", password + "x"), ("nobody", password)):
        response = requests.get(server.base_url + "/_api/version", auth=auth)
        assert response.status_code == 401
        assert response.json() == {"code": 401, "error": True, "errorNum": 11,
                                   "errorMessage": "not authorized to execute this request"}


def test_python_arango_basic_and_jwt_auth(server, password):
    from arango import ArangoClient
    from arango.exceptions import ServerConnectionError

    client = ArangoClient(hosts=server.base_url)
    assert client.db("_system", "root", password, verify=True).version() == "3.12.0"
    jwt_db = client.db("_system", "root", password, auth_method="jwt")
    assert "_system" in jwt_db.databases()
    with pytest.raises(ServerConnectionError):
        client.db("_system", "root", "wrong", verify=True)


def test_users_and_database_grants(server, http, dbname):
    assert http("POST", "/_api/user", json={"user": "reader", "passwd": "r"}).status_code == 201
    assert_error(http("POST", "/_api/user", json={"user": "reader", "passwd": "r"}), 409, 1702)
    reader = requests.Session()
    reader.auth = ("reader", "r")
    url = f"{server.base_url}/_db/{dbname}/_api/document/c"
    assert reader.post(url, json={}).status_code == 401          # no access yet
    assert http("PUT", f"/_api/user/reader/database/{dbname}",
                json={"grant": "ro"}).json()[dbname] == "ro"
    assert reader.get(f"{server.base_url}/_db/{dbname}/_api/collection/c").status_code == 200
    assert_error(reader.post(url, json={}), 403, 11)
    http("PUT", f"/_api/user/reader/database/{dbname}", json={"grant": "rw"})
    assert reader.post(url, json={}).status_code == 202
    assert http("DELETE", "/_api/user/reader").status_code == 202
    assert_error(http("GET", "/_api/user/reader"), 404, 1703)


# ------------------------------------------------------------------ databases
def test_database_lifecycle_and_errors(server, http):
    name = server.new_namespace_name("dbs")
    assert http("POST", "/_api/database", json={"name": name}).json() == {
        "result": True, "error": False, "code": 201}
    assert name in http("GET", "/_api/database").json()["result"]
    assert_error(http("POST", "/_api/database", json={"name": name}), 409, 1207)
    for bad in ("1starts-with-digit", " leading-space", "x" * 129, "_private", "a/b", "a:b"):
        assert_error(http("POST", "/_api/database", json={"name": bad}), 400, 1229)
    assert http("GET", f"/_db/{name}/_api/database/current").json()["result"]["name"] == name
    assert_error(http("GET", f"/_db/{name}/_api/database"), 403, 1230)
    assert http("DELETE", f"/_api/database/{name}").json()["result"] is True
    assert_error(http("DELETE", f"/_api/database/{name}"), 404, 1228)
    assert_error(http("GET", f"/_db/{name}/_api/collection"), 404, 1228)


# ---------------------------------------------------------------- collections
def test_collection_lifecycle_and_errors(http, dbname):
    base = f"/_db/{dbname}/_api/collection"
    created = http("POST", base, json={"name": "things", "waitForSync": True}).json()
    assert (created["name"], created["type"], created["waitForSync"]) == ("things", 2, True)
    assert_error(http("POST", base, json={"name": "things"}), 409, 1207)
    for bad in ("9lives", "trailing space ", "a/b", "a:b", "", "x" * 257):
        assert_error(http("POST", base, json={"name": bad}), 400, 1208)
    names = [c["name"] for c in http("GET", base).json()["result"]]
    assert "things" in names and "c" in names
    assert_error(http("GET", f"{base}/nothing"), 404, 1203)
    http("POST", f"/_db/{dbname}/_api/document/things", json={})
    assert http("GET", f"{base}/things/count").json()["count"] == 1
    assert http("PUT", f"{base}/things/truncate").status_code == 200
    assert http("GET", f"{base}/things/count").json()["count"] == 0
    assert http("DELETE", f"{base}/things").json()["error"] is False
    assert_error(http("DELETE", f"{base}/things"), 404, 1203)


# ------------------------------------------------------------------ documents
def test_document_crud_and_revisions(http, dbname):
    url = f"/_db/{dbname}/_api/document/c"
    created = http("POST", url, json={"_key": "a", "x": 1, "_rev": "ignored", "_id": "no/no"})
    assert created.status_code == 202          # collection waitForSync is false
    meta = created.json()
    assert meta == {"_id": "c/a", "_key": "a", "_rev": meta["_rev"]}
    assert created.headers["ETag"] == f'"{meta["_rev"]}"'
    got = http("GET", f"{url}/a")
    assert got.json() == {"_key": "a", "_id": "c/a", "_rev": meta["_rev"], "x": 1}
    patched = http("PATCH", f"{url}/a", json={"y": 2}, params={"returnNew": "true",
                                                              "returnOld": "true"}).json()
    assert patched["_oldRev"] == meta["_rev"] and patched["_rev"] != meta["_rev"]
    assert patched["old"]["x"] == 1 and patched["new"] == {**patched["old"], "y": 2,
                                                          "_rev": patched["_rev"]}
    replaced = http("PUT", f"{url}/a", json={"z": 3}, params={"returnNew": "true"}).json()
    assert {k for k in replaced["new"] if not k.startswith("_")} == {"z"}
    revs = {meta["_rev"], patched["_rev"], replaced["_rev"]}
    assert len(revs) == 3, "_rev changes on every write"
    removed = http("DELETE", f"{url}/a", params={"returnOld": "true"})
    assert removed.status_code == 202 and removed.json()["old"]["z"] == 3
    assert_error(http("GET", f"{url}/a"), 404, 1202)
    assert http("HEAD", f"{url}/a").status_code == 404
    assert_error(http("DELETE", f"{url}/a"), 404, 1202)
    assert_error(http("PATCH", f"{url}/a", json={}), 404, 1202)
    assert_error(http("POST", f"/_db/{dbname}/_api/document/nothing", json={}), 404, 1203)


def test_wait_for_sync_selects_201(http, dbname):
    url = f"/_db/{dbname}/_api/document/c"
    assert http("POST", url, json={}, params={"waitForSync": "true"}).status_code == 201
    assert http("POST", url, json={}).status_code == 202


def test_revision_preconditions(http, dbname):
    url = f"/_db/{dbname}/_api/document/c"
    rev = http("POST", url, json={"_key": "p"}).json()["_rev"]
    assert http("GET", f"{url}/p", headers={"If-None-Match": f'"{rev}"'}).status_code == 304
    stale = assert_error(http("PUT", f"{url}/p", json={"v": 1},
                              headers={"If-Match": '"_stale"'}), 412, 1200)
    assert (stale["_id"], stale["_key"], stale["_rev"]) == ("c/p", "p", rev)
    assert_error(http("GET", f"{url}/p", headers={"If-Match": '"_stale"'}), 412, 1200)
    assert_error(http("PATCH", f"{url}/p", json={"_rev": "_stale"},
                      params={"ignoreRevs": "false"}), 412, 1200)
    assert http("PATCH", f"{url}/p", json={"_rev": "_stale", "v": 1}).status_code == 202
    new_rev = http("GET", f"{url}/p").json()["_rev"]
    assert_error(http("DELETE", f"{url}/p", headers={"If-Match": rev}), 412, 1200)
    assert http("DELETE", f"{url}/p", headers={"If-Match": new_rev}).status_code == 202


def test_overwrite_modes_keep_null_and_merge_objects(http, dbname):
    url = f"/_db/{dbname}/_api/document/c"
    http("POST", url, json={"_key": "o", "a": {"x": 1, "y": 2}, "b": 1})
    assert_error(http("POST", url, json={"_key": "o"}), 409, 1210)
    ignored = http("POST", url, json={"_key": "o", "c": 1}, params={"overwriteMode": "ignore"})
    assert ignored.status_code == 202 and "c" not in http("GET", f"{url}/o").json()
    http("POST", url, json={"_key": "o", "a": {"z": 3}, "b": None},
         params={"overwriteMode": "update", "keepNull": "false"})
    assert {k: v for k, v in http("GET", f"{url}/o").json().items() if k[0] != "_"} == \
        {"a": {"x": 1, "y": 2, "z": 3}}
    http("PATCH", f"{url}/o", json={"a": {"w": 0}}, params={"mergeObjects": "false"})
    assert http("GET", f"{url}/o").json()["a"] == {"w": 0}
    replaced = http("POST", url, json={"_key": "o", "new": True},
                    params={"overwrite": "true", "returnOld": "true"}).json()
    assert replaced["old"]["a"] == {"w": 0} and "_oldRev" in replaced
    assert {k for k in http("GET", f"{url}/o").json() if k[0] != "_"} == {"new"}
    assert http("POST", url, json={"_key": "s"}, params={"silent": "true"}).json() == {}


def test_bulk_operations_report_errors_inline(http, dbname):
    url = f"/_db/{dbname}/_api/document/c"
    response = http("POST", url, json=[{"_key": "b1"}, {"_key": "b1"}, {"_key": "bad key"}])
    body = response.json()
    assert response.status_code == 202
    assert body[0]["_key"] == "b1"
    assert (body[1]["error"], body[1]["errorNum"]) == (True, 1210)
    assert (body[2]["error"], body[2]["errorNum"]) == (True, 1221)
    # the header is a JSON object, as ArangoDB 3.12 writes it ({"1202":2})
    assert json.loads(response.headers["X-Arango-Error-Codes"]) == {"1210": 1, "1221": 1}
    got = http("PUT", url, json=["b1", "missing"], params={"onlyget": "true"}).json()
    assert got[0]["_key"] == "b1" and got[1]["errorNum"] == 1202
    removed = http("DELETE", url, json=["b1", "missing"]).json()
    assert removed[0]["_key"] == "b1" and removed[1]["errorNum"] == 1202


def test_generated_keys_are_digits_that_grow(http, dbname):
    url = f"/_db/{dbname}/_api/document/c"
    keys = [http("POST", url, json={}).json()["_key"] for _ in range(5)]
    assert all(k.isdigit() for k in keys)
    assert [int(k) for k in keys] == sorted(int(k) for k in keys) and len(set(keys)) == 5


def test_documented_key_rules(http, dbname):
    url = f"/_db/{dbname}/_api/document/c"
    good = ["a", "A-z_0:9", KEY_PUNCTUATION, "x" * 254]
    bad = ["", "x" * 255, "sp ace", "sl/ash", "ümlaut", "tab\t", "q?", "h#", 'quo"te', 12]
    results = http("POST", url, json=[{"_key": k} for k in good + bad]).json()
    assert [("_key" in r) for r in results] == [True] * len(good) + [False] * len(bad)
    assert {r["errorNum"] for r in results[len(good):]} == {1221}
    assert_error(http("POST", url, json={"_key": "x" * 255}), 400, 1221)


KEY_ALPHABET = st.sampled_from(
    list("aZ09") + list(KEY_PUNCTUATION) + list(" /?#&\"<>[]{}\\^`|~é\n"))


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(keys=st.lists(st.text(KEY_ALPHABET, min_size=0, max_size=8)
                     | st.integers(250, 258).map(lambda n: "k" * n),
                     min_size=1, max_size=10, unique=True))
def test_key_validity_matches_the_documented_rules(http, dbname, keys):
    documented = re.compile(r"[A-Za-z0-9_\-:.@()+,=;$!*'%]{1,254}")
    url = f"/_db/{dbname}/_api/document/c"
    results = http("POST", url, json=[{"_key": k} for k in keys],
                   params={"overwriteMode": "replace"}).json()
    for key, result in zip(keys, results):
        expected = documented.fullmatch(key) is not None
        assert ("_key" in result) == expected, (key, result)
        if not expected:
            assert result["errorNum"] == 1221


# -------------------------------------------------------------------- cursors
def test_cursor_paging_with_batch_size(http, dbname):
    base = f"/_db/{dbname}/_api/cursor"
    first = http("POST", base, json={"query": "FOR i IN 1..5 RETURN i", "batchSize": 2,
                                     "count": True})
    body = first.json()
    assert first.status_code == 201
    assert (body["result"], body["hasMore"], body["count"]) == ([1, 2], True, 5)
    assert body["nextBatchId"] == "2" and "stats" in body["extra"]
    second = http("PUT", f"{base}/{body['id']}").json()           # pyArango's verb
    assert (second["result"], second["hasMore"], second["code"]) == ([3, 4], True, 200)
    third = http("POST", f"{base}/{body['id']}").json()           # python-arango's verb
    assert (third["result"], third["hasMore"]) == ([5], False)
    assert "nextBatchId" not in third
    assert_error(http("PUT", f"{base}/{body['id']}"), 404, 1600)


def test_small_results_need_no_cursor(http, dbname):
    body = http("POST", f"/_db/{dbname}/_api/cursor",
                json={"query": "RETURN 1", "batchSize": 5}).json()
    assert body["hasMore"] is False and "id" not in body and body["cached"] is False


def test_cursor_retry_delete_and_bad_batch_size(http, dbname):
    base = f"/_db/{dbname}/_api/cursor"
    body = http("POST", base, json={"query": "FOR i IN 1..5 RETURN i", "batchSize": 2,
                                    "options": {"allowRetry": True}}).json()
    cursor = body["id"]
    again = http("POST", f"{base}/{cursor}/2").json()
    assert again["result"] == [3, 4]
    assert http("POST", f"{base}/{cursor}/2").json()["result"] == [3, 4]   # the retry
    assert http("DELETE", f"{base}/{cursor}").json() == {"id": cursor, "error": False,
                                                          "code": 202}
    assert_error(http("POST", f"{base}/{cursor}"), 404, 1600)
    assert_error(http("POST", base, json={"query": "RETURN 1", "batchSize": 0}), 400, 10)


def test_python_arango_and_pyarango_page_through_cursors(server, password, dbname):
    from arango import ArangoClient
    from pyArango.connection import Connection

    db = ArangoClient(hosts=server.base_url).db(dbname, "root", password)
    assert list(db.aql.execute("FOR i IN 1..25 RETURN i", batch_size=4)) == list(range(1, 26))
    query = Connection(arangoURL=server.base_url, username="root",
                       password=password)[dbname].AQLQuery(
        "FOR i IN @n..30 RETURN i", batchSize=7, rawResults=True, bindVars={"n": 3})
    assert list(query) == list(range(3, 31))


# -------------------------------------------------------------------- indexes
def test_unique_persistent_index(http, dbname):
    idx = f"/_db/{dbname}/_api/index"
    url = f"/_db/{dbname}/_api/document/c"
    created = http("POST", idx, params={"collection": "c"},
                   json={"type": "persistent", "fields": ["email"], "unique": True,
                         "sparse": True})
    body = created.json()
    assert created.status_code == 201 and body["isNewlyCreated"] is True
    assert body["id"].startswith("c/") and body["type"] == "persistent"
    again = http("POST", idx, params={"collection": "c"},
                 json={"type": "persistent", "fields": ["email"], "unique": True,
                       "sparse": True})
    assert again.status_code == 200 and again.json()["id"] == body["id"]
    http("POST", url, json={"_key": "u1", "email": "a@x"})
    http("POST", url, json={"_key": "n1"})
    http("POST", url, json={"_key": "n2"})          # sparse: missing values never clash
    assert_error(http("POST", url, json={"_key": "u2", "email": "a@x"}), 409, 1210)
    http("DELETE", f"{url}/u1")
    assert http("POST", url, json={"_key": "u2", "email": "a@x"}).status_code == 202
    listed = http("GET", idx, params={"collection": "c"}).json()["indexes"]
    assert [i["type"] for i in listed] == ["primary", "persistent"]
    assert http("DELETE", f"{idx}/{body['id']}").json()["id"] == body["id"]
    assert_error(http("GET", f"{idx}/{body['id']}"), 404, 1212)


def test_ttl_index_rules(http, dbname):
    idx = f"/_db/{dbname}/_api/index"
    created = http("POST", idx, params={"collection": "c"},
                   json={"type": "ttl", "fields": ["at"], "expireAfter": 60})
    assert created.status_code == 201
    assert (created.json()["expireAfter"], created.json()["sparse"]) == (60, True)
    assert_error(http("POST", idx, params={"collection": "c"},
                      json={"type": "ttl", "fields": ["other"], "expireAfter": 1}), 400, 10)
    assert_error(http("POST", idx, params={"collection": "nothing"},
                      json={"type": "ttl", "fields": ["at"], "expireAfter": 1}), 404, 1203)


def test_ttl_index_removes_expired_documents(server, password, dbname):
    from arango import ArangoClient

    collection = ArangoClient(hosts=server.base_url).db(dbname, "root", password).collection("c")
    collection.add_index({"type": "ttl", "fields": ["expires"], "expireAfter": 0})
    now = datetime.now(timezone.utc)
    collection.insert_many([
        {"_key": "past-number", "expires": time.time() - 5},
        {"_key": "past-string", "expires": (now - timedelta(seconds=5)).strftime(
            "%Y-%m-%dT%H:%M:%S.000Z")},
        {"_key": "past-offset", "expires": (now - timedelta(seconds=5)).astimezone(
            timezone(timedelta(hours=2))).isoformat(timespec="milliseconds")},
        {"_key": "soon", "expires": time.time() + 0.6},
        {"_key": "future", "expires": time.time() + 3600},
        {"_key": "not-a-date", "expires": "tomorrow"},
        {"_key": "absent"},
    ])
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and collection.has("soon"):
        time.sleep(0.05)
    remaining = sorted(d["_key"] for d in collection.all())
    assert remaining == ["absent", "future", "not-a-date"]


# ---------------------------------------------------------------- concurrency
def test_concurrent_conditional_writes_are_atomic(http, dbname):
    """Twelve writers race to move one task to SUCCESS; exactly one may."""
    query = """
        LET current = DOCUMENT(@@c, @key)
        FILTER current == null OR current.state != 'SUCCESS'
        UPSERT {_key: @key} INSERT {_key: @key, state: 'SUCCESS', by: @who}
            UPDATE {state: 'SUCCESS', by: @who} IN @@c
        RETURN NEW.by"""
    winners, barrier = [], threading.Barrier(12)

    def writer(who: int) -> None:
        session = requests.Session()
        session.auth = http.session.auth
        barrier.wait()
        body = session.post(f"{http.base}/_db/{dbname}/_api/cursor", json={
            "query": query, "bindVars": {"@c": "c", "key": "race", "who": who}}).json()
        assert body["error"] is False, body
        winners.extend(body["result"])

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1
    assert http("GET", f"/_db/{dbname}/_api/document/c/race").json()["by"] == winners[0]


def test_concurrent_if_match_replacements_let_one_win(http, dbname):
    url = f"/_db/{dbname}/_api/document/c"
    rev = http("POST", url, json={"_key": "m", "v": 0}).json()["_rev"]
    statuses, barrier = [], threading.Barrier(8)

    def writer(value: int) -> None:
        session = requests.Session()
        session.auth = http.session.auth
        barrier.wait()
        statuses.append(session.put(f"{http.base}{url}/m", json={"v": value},
                                    headers={"If-Match": rev}).status_code)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(1, 9)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [202] + [412] * 7


# ------------------------------------------------------------------ clients
def test_pyarango_collections_documents_and_indexes(server, password, dbname):
    from pyArango.connection import Connection
    from pyArango.theExceptions import CreationError, DocumentNotFoundError

    conn = Connection(arangoURL=server.base_url, username="root", password=password)
    db = conn[dbname]
    things = db.createCollection(name="things")
    doc = things.createDocument({"n": 1})
    doc._key = "d1"
    doc.save()
    first_rev = doc._rev
    doc["n"] = 2
    doc.patch()
    assert doc._rev != first_rev
    assert things["d1"]["n"] == 2 and things.count() == 1
    ttl = things.ensureTTLIndex(["expires"], 30)
    assert ttl.infos["type"] == "ttl"
    things.ensurePersistentIndex(["n"], unique=True)
    things.ensureHashIndex(["h"])
    assert set(things.getIndexes()) >= {"primary", "persistent", "ttl"}
    clash = things.createDocument({"n": 2})
    with pytest.raises(CreationError):
        clash.save()
    doc.delete()
    with pytest.raises(DocumentNotFoundError):
        things.fetchDocument("d1")
    with pytest.raises(CreationError):
        conn.createDatabase(name=dbname)


def test_python_arango_collections_documents_and_indexes(server, password, dbname):
    from arango import ArangoClient
    from arango.exceptions import DocumentInsertError, DocumentRevisionError

    db = ArangoClient(hosts=server.base_url).db(dbname, "root", password)
    things = db.create_collection("things")
    meta = things.insert({"_key": "k", "v": 1}, return_new=True)
    assert meta["new"]["v"] == 1
    with pytest.raises(DocumentInsertError) as error:
        things.insert({"_key": "k"})
    assert error.value.error_code == 1210 and error.value.http_code == 409
    assert things.get("k")["v"] == 1 and things.has("k") and not things.has("nope")
    updated = things.update({"_key": "k", "w": 2}, return_new=True)
    with pytest.raises(DocumentRevisionError):
        things.replace({"_key": "k", "_rev": meta["_rev"], "v": 9})
    assert things.get("k")["w"] == 2 and updated["_rev"] != meta["_rev"]
    index = things.add_index({"type": "ttl", "fields": ["t"], "expireAfter": 5})
    assert index["type"] == "ttl" and index["expireAfter"] == 5
    assert [i["type"] for i in things.indexes()] == ["primary", "ttl"]
    things.delete("k")
    assert things.count() == 0
    assert db.delete_collection("things") is True


def test_python_arango_users_and_permissions(server, password, dbname):
    """Users and database permissions through python-arango, as ArangoDB's
    documentation gives them: a new user reaches nothing, ro reads and
    cannot write (403, 11), rw writes; its own record stays readable."""
    from arango import ArangoClient
    from arango.exceptions import DocumentInsertError, UserCreateError

    client = ArangoClient(hosts=server.base_url)
    system = client.db("_system", "root", password)
    created = system.create_user("peer-reader", "pw", active=True)
    assert created["username"] == "peer-reader" and created["active"] is True
    with pytest.raises(UserCreateError) as duplicate:
        system.create_user("peer-reader", "pw")
    assert duplicate.value.error_code == 1702
    try:
        assert system.permission("peer-reader", dbname) == "none"
        system.update_permission("peer-reader", "ro", dbname)
        assert system.permission("peer-reader", dbname) == "ro"
        reader = client.db(dbname, "peer-reader", "pw")
        assert reader.collection("c").count() == 0
        with pytest.raises(DocumentInsertError) as refused:
            reader.collection("c").insert({"v": 1})
        assert (refused.value.http_code, refused.value.error_code) == (403, 11)
        system.update_permission("peer-reader", "rw", dbname)
        assert reader.collection("c").insert({"_key": "x", "v": 1})["_key"] == "x"
        assert client.db("_system", "peer-reader", "pw").user("peer-reader")["username"] \
            == "peer-reader"
    finally:
        assert system.delete_user("peer-reader") is True
    assert not system.has_user("peer-reader")


def test_python_arango_aql_and_bulk_operations(server, password, dbname):
    """AQL with bind variables and a cursor in batches, and bulk document
    operations whose failed items come back as errors, through python-arango."""
    from arango import ArangoClient
    from arango.exceptions import AQLQueryExecuteError, DocumentInsertError

    db = ArangoClient(hosts=server.base_url).db(dbname, "root", password)
    c = db.collection("c")
    results = c.insert_many([{"_key": f"k{i}", "n": i} for i in range(5)] + [{"_key": "k0"}])
    assert [isinstance(r, DocumentInsertError) for r in results] == [False] * 5 + [True]
    assert results[-1].error_code == 1210
    cursor = db.aql.execute("FOR d IN @@c FILTER d.n >= @low SORT d.n RETURN d.n",
                            bind_vars={"@c": "c", "low": 2}, batch_size=1, count=True)
    assert cursor.count() == 3 and list(cursor) == [2, 3, 4]
    with pytest.raises(AQLQueryExecuteError) as missing:
        db.aql.execute("FOR d IN c RETURN @nope")
    assert missing.value.error_code == 1551   # a declared bind parameter with no value
    removed = c.delete_many([{"_key": "k1"}, {"_key": "absent"}])
    assert isinstance(removed[1], Exception) and removed[1].error_code == 1202
    assert c.count() == 4


# ---------------------------------------------------------------- persistence
def test_data_dir_snapshot_survives_a_restart(tmp_path):
    first = start_emulator(str(tmp_path), ("--data-dir", str(tmp_path / "data")))
    password = first.connection_info()["password"]
    session = requests.Session()
    session.auth = ("root", password)
    session.post(f"{first.base_url}/_api/database", json={"name": "kept"})
    session.post(f"{first.base_url}/_db/kept/_api/collection", json={"name": "c"})
    session.post(f"{first.base_url}/_db/kept/_api/document/c", json={"_key": "a", "v": 1})
    first.stop()
    second = start_emulator(str(tmp_path), ("--data-dir", str(tmp_path / "data")))
    try:
        session.auth = ("root", second.connection_info()["password"])
        got = session.get(f"{second.base_url}/_db/kept/_api/document/c/a")
        assert got.status_code == 200 and got.json()["v"] == 1
    finally:
        second.stop()


def test_no_write_acknowledged_during_shutdown_is_missing_after_a_restart(tmp_path):
    """Writers on open connections keep going while the server is told to
    stop: every write the server acknowledged is in the snapshot it starts
    from again (the store freezes before the snapshot; later writes are
    never acknowledged)."""
    first = start_emulator(str(tmp_path), ("--data-dir", str(tmp_path / "data")))
    auth = ("root", first.connection_info()["password"])
    setup = requests.Session()
    setup.auth = auth
    setup.post(f"{first.base_url}/_api/database", json={"name": "kept"})
    setup.post(f"{first.base_url}/_db/kept/_api/collection", json={"name": "c"})
    acknowledged: list = []
    stop = threading.Event()

    def write(label: str) -> None:
        session = requests.Session()
        session.auth = auth
        n = 0
        while not stop.is_set():
            key = f"{label}-{n}"
            try:
                answer = session.post(f"{first.base_url}/_db/kept/_api/document/c",
                                      json={"_key": key}, timeout=5)
            except requests.RequestException:
                return
            if answer.status_code in (201, 202):
                acknowledged.append(key)
            n += 1

    writers = [threading.Thread(target=write, args=(f"w{i}",)) for i in range(4)]
    for writer in writers:
        writer.start()
    time.sleep(0.5)
    first.stop()
    stop.set()
    for writer in writers:
        writer.join(10)
    second = start_emulator(str(tmp_path), ("--data-dir", str(tmp_path / "data")))
    try:
        setup.auth = ("root", second.connection_info()["password"])
        keys = setup.post(f"{second.base_url}/_db/kept/_api/cursor", json={
            "query": "FOR d IN c RETURN d._key", "batchSize": 100000}).json()["result"]
    finally:
        second.stop()
    missing = sorted(set(acknowledged) - set(keys))
    assert acknowledged and not missing, (
        f"{len(missing)} of {len(acknowledged)} acknowledged writes are missing: {missing[:5]}")
