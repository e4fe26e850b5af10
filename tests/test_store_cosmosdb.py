"""The Cosmos DB store: the launcher's fixes to @vercel/cosmosdb-server, what the
server does for the operations a backend relies on, namespaces, URLs, secrets,
xdist hand-over, and the ladder's other routes.

One real server (the local route) serves the whole module.
"""

from __future__ import annotations

import http.client
import io
import json
import os
import re
import shutil
import stat
import threading
import time
from urllib.parse import quote

import pytest

from celery_conformance import containers
from celery_conformance.containers import StoreUnavailable, cosmosdb, obtain
from celery_conformance.containers.cosmosdb import (
    CONTROL_PLANE_HEADERS,
    EMULATOR_KEY,
    LAUNCHER,
    MAX_DOCUMENT_BYTES,
    PROVIDER,
    RULES_ENV_VAR,
    CosmosEndpoint,
    RealAccountRules,
    parse_url,
)

azure_cosmos = pytest.importorskip("azure.cosmos")
from azure.core import MatchConditions  # noqa: E402
from azure.cosmos import CosmosClient, PartitionKey  # noqa: E402
from azure.cosmos.exceptions import (  # noqa: E402
    CosmosAccessConditionFailedError,
    CosmosHttpResponseError,
    CosmosResourceExistsError,
    CosmosResourceNotFoundError,
)

QUOTED_KEY = quote(EMULATOR_KEY, safe="")
NODE = shutil.which("node")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The independent server, started once through the provider's local route."""
    reason = PROVIDER.local_unavailable_reason()
    if reason is not None:
        pytest.skip(f"not run: {reason}")
    store = PROVIDER.from_local(str(tmp_path_factory.mktemp("cosmosdb")))
    try:
        yield store
    finally:
        store.stop()


@pytest.fixture
def namespace(server):
    ns = server.create_namespace("test")
    yield ns
    server.drop_namespace(ns)


@pytest.fixture
def container(server, namespace):
    """A container partitioned on /id, as Celery's backend makes it."""
    database = server.client().get_database_client(namespace.name)
    return database.create_container("items", partition_key=PartitionKey("/id"))


def raw_request(port: int, method: str, path: str, headers=None, conn=None, body=None):
    """One HTTP request without an SDK (the server checks no signature):
    (status, headers, parsed JSON body)."""
    own = conn is None
    conn = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        data = response.read()
        return response.status, dict(response.getheaders()), json.loads(data) if data else None
    finally:
        if own:
            conn.close()


# ------------------------------------------------------ the launcher's fixes
def test_reading_a_missing_document_answers_404_not_found(server, container, namespace):
    container.upsert_item({"id": "present", "value": 1})
    assert container.read_item("present", partition_key="present")["value"] == 1
    with pytest.raises(CosmosResourceNotFoundError):
        container.read_item("absent", partition_key="absent")
    status, _, body = raw_request(
        server.endpoint.port, "GET", f"/dbs/{namespace.name}/colls/items/docs/absent",
        {"x-ms-documentdb-partitionkey": '["absent"]'})
    assert status == 404
    assert body["code"] == "NotFound" and body["message"]


def test_every_error_answer_carries_a_cosmos_code(server, namespace, container):
    port = server.endpoint.port
    container.upsert_item({"id": "here"})
    answers = {
        "missing database": raw_request(port, "DELETE", "/dbs/cc_no_such_database"),
        "missing document": raw_request(
            port, "DELETE", f"/dbs/{namespace.name}/colls/items/docs/absent",
            {"x-ms-documentdb-partitionkey": '["absent"]'}),
        "existing database": raw_request(port, "POST", "/dbs",
                                         {"content-type": "application/json"},
                                         body=json.dumps({"id": namespace.name})),
    }
    assert {what: (status, body["code"]) for what, (status, _, body) in answers.items()} == {
        "missing database": (404, "NotFound"),
        "missing document": (404, "NotFound"),
        "existing database": (409, "Conflict"),
    }


def test_the_account_advertises_the_http_endpoint_it_serves(server, namespace, container):
    status, _, account = raw_request(server.endpoint.port, "GET", "/")
    expected = f"http://127.0.0.1:{server.endpoint.port}/"
    assert status == 200
    advertised = [loc["databaseAccountEndpoint"]
                  for loc in account["writableLocations"] + account["readableLocations"]]
    assert advertised and set(advertised) == {expected}
    # an SDK that follows the advertised endpoint (endpoint discovery) keeps working
    with CosmosClient(server.endpoint.base, credential=EMULATOR_KEY,
                      enable_endpoint_discovery=True) as client:
        items = client.get_database_client(namespace.name).get_container_client("items")
        items.upsert_item({"id": "via-discovery"})
        assert items.read_item("via-discovery", partition_key="via-discovery")["id"] == (
            "via-discovery")


def test_connections_are_kept_alive_across_requests(server):
    conn = http.client.HTTPConnection("127.0.0.1", server.endpoint.port, timeout=10)
    try:
        statuses, sockets = [], []
        for _ in range(4):
            status, headers, _ = raw_request(server.endpoint.port, "GET", "/dbs", conn=conn)
            statuses.append(status)
            sockets.append(conn.sock)
            assert headers.get("connection", headers.get("Connection")) == "keep-alive"
        assert statuses == [200] * 4
        assert sockets[0] is not None and all(s is sockets[0] for s in sockets), (
            "the server closed the connection between requests")
    finally:
        conn.close()


def test_every_request_is_logged_without_credentials(server, container):
    container.upsert_item({"id": "logged"})
    with pytest.raises(CosmosResourceNotFoundError):
        container.read_item("not-logged-in", partition_key="not-logged-in")
    logged = r" GET /dbs/cc_\w+/colls/items/docs/not-logged-in/? 404 "
    deadline = time.monotonic() + 10   # the server writes its log after it answers
    while not re.search(logged, tail := server.log_tail(400)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert re.search(r" POST /dbs/cc_\w+/colls/items/docs/? 20[01] ", tail)
    assert re.search(logged, tail)
    for secret in (EMULATOR_KEY, QUOTED_KEY, "type%3dmaster", "authorization"):
        assert secret.lower() not in tail.lower()


# ------------------------------------- what the server does for a backend
def test_deleting_a_missing_document_answers_404(container):
    with pytest.raises(CosmosResourceNotFoundError):
        container.delete_item("absent", partition_key="absent")


def test_missing_database_and_container_answer_404(server, namespace):
    with pytest.raises(CosmosResourceNotFoundError):
        server.client().get_database_client("cc_no_such_database").read()
    missing = server.client().get_database_client(namespace.name).get_container_client("nope")
    with pytest.raises(CosmosResourceNotFoundError):
        missing.read()
    with pytest.raises(CosmosResourceNotFoundError):
        missing.upsert_item({"id": "x"})


def test_creating_an_existing_id_answers_409(container):
    container.create_item({"id": "once"})
    with pytest.raises(CosmosResourceExistsError):
        container.create_item({"id": "once"})


def test_a_stale_etag_answers_412_and_a_fresh_one_writes(container):
    first = container.upsert_item({"id": "doc", "n": 1})
    second = container.replace_item("doc", {"id": "doc", "n": 2}, etag=first["_etag"],
                                    match_condition=MatchConditions.IfNotModified)
    assert second["_etag"] != first["_etag"]
    for write in (
        lambda: container.replace_item("doc", {"id": "doc", "n": 3}, etag=first["_etag"],
                                       match_condition=MatchConditions.IfNotModified),
        lambda: container.upsert_item({"id": "doc", "n": 3}, etag=first["_etag"],
                                      match_condition=MatchConditions.IfNotModified),
        lambda: container.delete_item("doc", partition_key="doc", etag=first["_etag"],
                                      match_condition=MatchConditions.IfNotModified),
    ):
        with pytest.raises(CosmosAccessConditionFailedError):
            write()
    assert container.read_item("doc", partition_key="doc")["n"] == 2


def test_queries_a_backend_uses(container):
    docs = [{"id": f"k{i}", "n": (i * 7) % 5, "group": "odd" if i % 2 else "even"}
            for i in range(5)]
    for doc in docs:
        container.upsert_item(doc)

    def query(sql, **params):
        return list(container.query_items(
            sql, parameters=[{"name": f"@{k}", "value": v} for k, v in params.items()],
            enable_cross_partition_query=True))

    wanted = ["k1", "k3", "zz"]
    assert query("SELECT VALUE c.id FROM c WHERE c.id = @id", id="k2") == ["k2"]
    assert sorted(query("SELECT VALUE c.id FROM c WHERE ARRAY_CONTAINS(@ids, c.id)",
                        ids=wanted)) == ["k1", "k3"]
    assert sorted(query("SELECT VALUE c.id FROM c WHERE c.id IN (@a, @b)",
                        a="k0", b="k4")) == ["k0", "k4"]
    assert sorted(query("SELECT VALUE c.id FROM c WHERE c.id IN ('k2', 'k3')")) == ["k2", "k3"]
    by_n = query("SELECT c.id, c.n FROM c ORDER BY c.n DESC")
    assert [d["n"] for d in by_n] == sorted((d["n"] for d in docs), reverse=True)
    assert query("SELECT VALUE COUNT(1) FROM c") == [len(docs)]
    assert query("SELECT VALUE COUNT(1) FROM c WHERE c.group = @g", g="odd") == [
        sum(d["group"] == "odd" for d in docs)]
    paged = container.query_items("SELECT VALUE c.id FROM c", max_item_count=2,
                                  enable_cross_partition_query=True)
    assert sorted(paged) == sorted(d["id"] for d in docs)


def test_cross_partition_queries_see_every_partition(server, namespace):
    database = server.client().get_database_client(namespace.name)
    grouped = database.create_container("grouped", partition_key=PartitionKey("/pk"))
    rows = [("a", "p1"), ("a", "p2"), ("b", "p2")]  # the same id in two partitions
    for doc_id, pk in rows:
        grouped.upsert_item({"id": doc_id, "pk": pk})
    found = grouped.query_items("SELECT c.id, c.pk FROM c", enable_cross_partition_query=True)
    assert sorted((d["id"], d["pk"]) for d in found) == sorted(rows)
    assert grouped.read_item("a", partition_key="p2")["pk"] == "p2"
    grouped.delete_item("a", partition_key="p1")
    with pytest.raises(CosmosResourceNotFoundError):
        grouped.read_item("a", partition_key="p1")
    assert grouped.read_item("a", partition_key="p2")["pk"] == "p2"


def test_the_independent_server_lacks_expiry_and_really_does(server, namespace):
    assert server.kind == "independent" and server.route == "local"
    assert server.lacks == {"native_expiry": "server does not enforce TTL"}
    database = server.client().get_database_client(namespace.name)
    expiring = database.create_container("expiring", partition_key=PartitionKey("/id"),
                                         default_ttl=1)
    expiring.upsert_item({"id": "short", "ttl": 1})
    time.sleep(2.1)
    # still there: if this fails, the server enforces TTL and `lacks` is wrong
    assert expiring.read_item("short", partition_key="short")["id"] == "short"


# ------------------------------- answering as a real account (launcher flags)
def _start_local(tmp_path_factory, rules=None):
    reason = PROVIDER.local_unavailable_reason()
    if reason is not None:
        pytest.skip(f"not run: {reason}")
    return PROVIDER.from_local(str(tmp_path_factory.mktemp("cosmosdb-rules")), rules=rules)


@pytest.fixture(scope="module")
def strict_server(tmp_path_factory):
    """The server refusing metadata writes with the key and documents over 2 MiB."""
    store = _start_local(tmp_path_factory,
                         RealAccountRules(no_metadata_writes=True, document_limit=True))
    try:
        yield store
    finally:
        store.stop()


def _data_client(store):
    """A client as a backend has it: the key only, no control-plane header."""
    return CosmosClient(store.endpoint.base, credential=EMULATOR_KEY,
                        enable_endpoint_discovery=False)


def test_the_rules_are_off_by_default(server):
    assert server.rules == RealAccountRules() and not server.rules.active
    status, _, _ = raw_request(server.endpoint.port, "POST", "/dbs",
                               {"content-type": "application/json"},
                               body=json.dumps({"id": "cc_default_rules"}))
    assert status == 201
    assert raw_request(server.endpoint.port, "DELETE", "/dbs/cc_default_rules")[0] == 204


def test_without_metadata_writes_creates_and_deletes_answer_403(strict_server):
    """As an account with disableKeyBasedMetadataWriteAccess: every database
    or container create, replace or delete with the key answers 403
    Forbidden (also for one that exists); reads and document writes work."""
    port = strict_server.endpoint.port
    admin = {"content-type": "application/json", **CONTROL_PLANE_HEADERS}
    assert raw_request(port, "POST", "/dbs", admin,
                       body=json.dumps({"id": "cc_locked"}))[0] == 201
    collection = {"id": "items", "partitionKey": {"paths": ["/id"], "kind": "Hash"},
                  "defaultTtl": -1}
    assert raw_request(port, "POST", "/dbs/cc_locked/colls", admin,
                       body=json.dumps(collection))[0] == 201
    plain = {"content-type": "application/json"}
    answers = {
        "create database": raw_request(port, "POST", "/dbs", plain,
                                       body=json.dumps({"id": "cc_other"})),
        "create existing database": raw_request(port, "POST", "/dbs", plain,
                                                body=json.dumps({"id": "cc_locked"})),
        "create container": raw_request(port, "POST", "/dbs/cc_locked/colls", plain,
                                        body=json.dumps(dict(collection, id="more"))),
        "replace container": raw_request(port, "PUT", "/dbs/cc_locked/colls/items", plain,
                                         body=json.dumps(collection)),
        "delete container": raw_request(port, "DELETE", "/dbs/cc_locked/colls/items"),
        "delete database": raw_request(port, "DELETE", "/dbs/cc_locked"),
    }
    assert {what: (status, body["code"]) for what, (status, _, body) in answers.items()} == {
        what: (403, "Forbidden") for what in answers}
    assert "not allowed through Azure Cosmos DB endpoint" in answers["create database"][2][
        "message"]
    with _data_client(strict_server) as client:
        with pytest.raises(CosmosHttpResponseError) as refused:
            client.create_database("cc_by_key")
        assert refused.value.status_code == 403
        database = client.get_database_client("cc_locked")
        assert database.read()["id"] == "cc_locked"
        items = database.get_container_client("items")
        assert items.read()["partitionKey"]["paths"] == ["/id"]
        items.upsert_item({"id": "data-plane"})
        assert items.read_item("data-plane", partition_key="data-plane")["id"] == "data-plane"
        with pytest.raises(CosmosResourceNotFoundError):
            client.get_database_client("cc_other").read()
    assert raw_request(port, "DELETE", "/dbs/cc_locked", admin)[0] == 204


def test_without_metadata_writes_namespaces_come_with_the_default_container(strict_server):
    """The store sets a namespace up as an administrator would: the database
    and the container ``celerycol`` partitioned on /id with TTL on."""
    ns = strict_server.create_namespace("locked")
    try:
        with _data_client(strict_server) as client:
            properties = client.get_database_client(ns.name).get_container_client(
                "celerycol").read()
        assert properties["partitionKey"]["paths"] == ["/id"]
        assert properties["defaultTtl"] == -1
        info = json.loads(json.dumps(strict_server.connection_info()))
        worker = cosmosdb.from_connection_info(info)
        assert worker.rules == strict_server.rules
        worker.stop()
    finally:
        strict_server.drop_namespace(ns)
    with _data_client(strict_server) as client, pytest.raises(CosmosResourceNotFoundError):
        client.get_database_client(ns.name).read()


def test_a_document_over_2_mib_answers_413_and_is_not_stored(strict_server):
    ns = strict_server.create_namespace("big")
    port = strict_server.endpoint.port
    path = f"/dbs/{ns.name}/colls/celerycol/docs"
    try:
        def document_of_size(doc_id: str, size: int) -> bytes:
            empty = json.dumps({"id": doc_id, "v": ""}, separators=(",", ":"))
            body = json.dumps({"id": doc_id, "v": "x" * (size - len(empty))},
                              separators=(",", ":")).encode()
            assert len(body) == size
            return body

        def write(doc_id: str, size: int, method="POST", url=path, **extra):
            headers = {"content-type": "application/json",
                       "x-ms-documentdb-partitionkey": json.dumps([doc_id]), **extra}
            return raw_request(port, method, url, headers, body=document_of_size(doc_id, size))

        assert write("at-limit", MAX_DOCUMENT_BYTES)[0] == 201
        status, _, body = write("over-limit", MAX_DOCUMENT_BYTES + 1)
        assert (status, body["code"]) == (413, "RequestEntityTooLarge")
        status, _, body = write("over-limit", MAX_DOCUMENT_BYTES + 1,
                                **{"x-ms-documentdb-is-upsert": "True"})
        assert (status, body["code"]) == (413, "RequestEntityTooLarge")
        status, _, body = write("at-limit", MAX_DOCUMENT_BYTES + 1, "PUT", f"{path}/at-limit")
        assert (status, body["code"]) == (413, "RequestEntityTooLarge")
        with _data_client(strict_server) as client:
            items = client.get_database_client(ns.name).get_container_client("celerycol")
            with pytest.raises(CosmosResourceNotFoundError):
                items.read_item("over-limit", partition_key="over-limit")
            assert len(items.read_item("at-limit", partition_key="at-limit")["v"]) > 2_000_000
            with pytest.raises(CosmosHttpResponseError) as too_large:  # as the SDK sends it
                items.upsert_item({"id": "sdk", "v": "x" * MAX_DOCUMENT_BYTES})
            assert too_large.value.status_code == 413
    finally:
        strict_server.drop_namespace(ns)


def test_throttling_answers_429_with_retry_after_and_the_sdk_retries(tmp_path_factory,
                                                                   monkeypatch):
    """Started through the environment variable: the first N requests and
    then a fraction of them answer 429 with x-ms-retry-after-ms; the account
    read and control-plane requests are never throttled; azure-cosmos
    retries each 429 after the delay and succeeds."""
    monkeypatch.setenv(RULES_ENV_VAR, "throttle-first=2,throttle-fraction=0.5,retry-after-ms=25")
    store = _start_local(tmp_path_factory)
    try:
        assert store.rules == RealAccountRules(throttle_first=2, throttle_fraction=0.5,
                                               retry_after_ms=25)
        port = store.endpoint.port
        assert raw_request(port, "GET", "/")[0] == 200   # the account read: never throttled
        answers = [raw_request(port, "GET", "/dbs") for _ in range(6)]
        assert [status for status, _, _ in answers] == [429, 429, 200, 429, 200, 429]
        _, headers, body = answers[0]
        assert headers.get("x-ms-retry-after-ms") == "25"
        assert body["code"] == "TooManyRequests"
        assert raw_request(port, "GET", "/dbs", CONTROL_PLANE_HEADERS)[0] == 200
        ns = store.create_namespace("throttled")   # the control plane: not throttled
        database = ns.name
        store.create_container_as_admin(database, "items")
        with _data_client(store) as client:
            items = client.get_database_client(database).get_container_client("items")
            for n in range(4):
                items.upsert_item({"id": f"d{n}", "n": n})
            assert [items.read_item(f"d{n}", partition_key=f"d{n}")["n"]
                    for n in range(4)] == list(range(4))
        throttled = re.findall(r" (?:POST|GET) /dbs/\w+/colls/items/docs\S* 429 ",
                               store.log_tail(400))
        assert throttled, "no document request was throttled"
        store.drop_namespace(ns)
    finally:
        store.stop()


@pytest.mark.parametrize("text, rules", [
    ("", RealAccountRules()),
    ("no-metadata-writes", RealAccountRules(no_metadata_writes=True)),
    (" document-limit , throttle-first=3,retry-after-ms=0",
     RealAccountRules(document_limit=True, throttle_first=3, retry_after_ms=0)),
    ("throttle-fraction=0.25", RealAccountRules(throttle_fraction=0.25)),
])
def test_real_account_rules_parse(text, rules):
    assert RealAccountRules.parse(text) == rules


@pytest.mark.parametrize("text, fragment", [
    ("no-metadata-write", "unknown rule 'no-metadata-write'"),
    ("throttle-first=many", "throttle-first needs a number"),
    ("document-limit=3", "unknown rule 'document-limit=3'"),
    ("throttle-fraction=2", "throttle_fraction from 0 to 1"),
])
def test_bad_rules_are_refused_naming_the_rule(text, fragment):
    with pytest.raises(ValueError, match=re.escape(fragment)) as refused:
        RealAccountRules.parse(text)
    assert str(refused.value).startswith(f"{RULES_ENV_VAR}: ")


def test_the_rules_become_launcher_flags():
    assert RealAccountRules().launcher_args() == []
    assert RealAccountRules(no_metadata_writes=True, document_limit=True, throttle_first=4,
                            throttle_fraction=0.5, retry_after_ms=7).launcher_args() == [
        "--no-metadata-writes", "--max-document-bytes", "2097152", "--throttle-first", "4",
        "--throttle-fraction", "0.5", "--retry-after-ms", "7"]


@pytest.mark.skipif(NODE is None, reason="no node")
@pytest.mark.parametrize("flags, fragment", [
    (["--throttle-fraction", "1.5"], "--throttle-fraction needs a number from 0 to 1"),
    (["--max-document-bytes", "-3"], "--max-document-bytes needs a number"),
    (["--no-such-flag"], "unknown option --no-such-flag"),
])
def test_the_launcher_refuses_bad_flags(flags, fragment, tmp_path):
    import subprocess

    done = subprocess.run([NODE, LAUNCHER, str(tmp_path), *flags], capture_output=True,
                          text=True, timeout=30)
    assert done.returncode == 2
    assert fragment in done.stderr and "usage:" in done.stderr


# ------------------------------------------------------------- namespaces
def test_namespaces_are_isolated_databases(server):
    first, second = server.create_namespace("One"), server.create_namespace("Two")
    try:
        for ns in (first, second):
            assert re.fullmatch(r"[a-z0-9_]{1,255}", ns.name)
            assert ns.url == f"cosmosdbsql+http://:{QUOTED_KEY}@127.0.0.1:{server.endpoint.port}"
            assert ns.settings == {"cosmosdbsql_database_name": ns.name}
            assert ns.trust_settings == {}  # plain http: no certificate to trust
        assert first.name != second.name
        client = server.client()
        for ns in (first, second):
            client.get_database_client(ns.name).create_container(
                "items", partition_key=PartitionKey("/id"))
        client.get_database_client(first.name).get_container_client("items").upsert_item(
            {"id": "only-in-first"})
        other = client.get_database_client(second.name).get_container_client("items")
        with pytest.raises(CosmosResourceNotFoundError):
            other.read_item("only-in-first", partition_key="only-in-first")
        server.drop_namespace(first)
        with pytest.raises(CosmosResourceNotFoundError):
            client.get_database_client(first.name).read()
        server.drop_namespace(first)  # a second drop is not an error
        assert client.get_database_client(second.name).read()["id"] == second.name
    finally:
        server.drop_namespace(first)
        server.drop_namespace(second)


def test_celery_builtin_backend_works_on_a_namespace(namespace):
    """Celery's own cosmosdbsql backend (pydocumentdb), configured as a user would."""
    pytest.importorskip("pydocumentdb")
    from celery import Celery

    app = Celery(set_as_current=False)
    app.conf.update(result_backend=namespace.url, **namespace.settings,
                    **namespace.trust_settings)
    backend = app.backend
    assert type(backend).__name__ == "CosmosDBSQLBackend"
    backend.store_result("task-1", {"answer": 42}, "SUCCESS")
    meta = backend.get_task_meta("task-1")
    assert (meta["status"], meta["result"]) == ("SUCCESS", {"answer": 42})
    assert backend.get_task_meta("never-stored")["status"] == "PENDING"
    backend.forget("task-1")
    backend.forget("task-1")
    assert backend.get_task_meta("task-1")["status"] == "PENDING"


# ------------------------------------------------------------------- URLs
@pytest.mark.parametrize("url, scheme, host, port", [
    (f"cosmosdbsql://:{QUOTED_KEY}@acct.documents.azure.com", "https",
     "acct.documents.azure.com", 443),
    (f"cosmosdbsql://:{QUOTED_KEY}@localhost:8081", "https", "localhost", 8081),
    (f"cosmosdbsql+https://:{QUOTED_KEY}@localhost:8081/", "https", "localhost", 8081),
    (f"cosmosdbsql+http://:{QUOTED_KEY}@127.0.0.1:45678", "http", "127.0.0.1", 45678),
    (f"cosmosdbsql+http://:{QUOTED_KEY}@[::1]:45678", "http", "::1", 45678),
    (f"COSMOSDBSQL+HTTP://:{QUOTED_KEY}@host", "http", "host", 80),
    (f"https://:{QUOTED_KEY}@acct.documents.azure.com:443/", "https",
     "acct.documents.azure.com", 443),
    # an unquoted key still parses: it runs to the last '@'
    (f"cosmosdbsql://:{EMULATOR_KEY}@acct.documents.azure.com", "https",
     "acct.documents.azure.com", 443),
])
def test_recognised_urls_parse_to_scheme_host_port_and_key(url, scheme, host, port):
    assert PROVIDER.recognizes(url)
    endpoint = parse_url(url)
    assert (endpoint.scheme, endpoint.host, endpoint.port) == (scheme, host, port)
    assert endpoint.key == EMULATOR_KEY
    assert parse_url(endpoint.url()) == endpoint


@pytest.mark.parametrize("url", [
    "postgresql://user:pw@localhost/db",
    "https://example.com/",
    "http://acct.documents.azure.com/",
    "redis://localhost:6379/0",
    "cosmosdb://:key@host",
])
def test_other_urls_are_not_recognised(url):
    assert not PROVIDER.recognizes(url)


def test_the_key_is_url_quoted_in_urls():
    endpoint = CosmosEndpoint("https", "localhost", 8081, EMULATOR_KEY)
    url = endpoint.url()
    assert url == f"cosmosdbsql+https://:{QUOTED_KEY}@localhost:8081"
    assert not re.search(r"[/+=]", url.split("@")[0].split("://")[1])


@pytest.mark.parametrize("url", [
    "cosmosdbsql://localhost:8081",
    "cosmosdbsql://SECRETKEY@localhost:8081",
    "cosmosdbsql://:SECRETKEY@",
    "cosmosdbsql://:SECRETKEY@host:notaport",
])
def test_malformed_urls_are_refused_without_showing_the_key(url):
    with pytest.raises(ValueError) as info:
        parse_url(url)
    assert "SECRETKEY" not in str(info.value)


# ---------------------------------------------------------------- secrets
def test_the_key_is_never_shown(server, namespace):
    shown = [repr(server), server.describe(), repr(namespace), repr(server.endpoint),
             server.log_tail(400)]
    for text in shown:
        assert EMULATOR_KEY not in text and QUOTED_KEY not in text
    assert server.describe() == "cosmosdb @vercel/cosmosdb-server 1.0.1 (independent, via local)"


def test_an_unreachable_url_is_unavailable_without_showing_the_key():
    from celery_conformance.containers._process import free_port

    url = f"cosmosdbsql+http://:{QUOTED_KEY}@127.0.0.1:{free_port()}"
    with pytest.raises(StoreUnavailable) as info:
        PROVIDER.from_url(url)
    message = str(info.value)
    assert "did not answer" in message
    assert EMULATOR_KEY not in message and QUOTED_KEY not in message


def test_a_given_url_is_a_real_store_reached_by_url(server, monkeypatch):
    monkeypatch.setenv(PROVIDER.env_var, server.endpoint.url())
    store = obtain(PROVIDER, "/nonexistent")
    try:
        assert (store.route, store.kind, store.lacks) == ("url", "real", {})
        assert store.version == "unknown"  # the independent server names no version
        assert store.endpoint == server.endpoint
    finally:
        store.stop()
    assert server.process.proc.poll() is None


# ------------------------------------------------------- xdist hand-over
def test_a_worker_reuses_the_controllers_server(server):
    info = json.loads(json.dumps(server.connection_info()))  # as it crosses processes
    worker = cosmosdb.from_connection_info(info)
    assert (worker.kind, worker.route, worker.version, worker.lacks) == (
        "independent", "local", "@vercel/cosmosdb-server 1.0.1",
        {"native_expiry": "server does not enforce TTL"})
    assert worker.endpoint == server.endpoint and worker.process is None
    ns = worker.create_namespace("worker")
    try:
        assert server.client().get_database_client(ns.name).read()["id"] == ns.name
    finally:
        worker.drop_namespace(ns)
        worker.stop()
    assert server.process.proc.poll() is None, "a worker stopped the controller's server"
    assert server.client().get_database_account() is not None


# -------------------------------------------------- the testcontainers route
class FakeEmulator:
    """Stands in for CosmosDBNoSQLEndpointContainer: records how it was built."""

    instances: list = []
    fail_start = False

    def __init__(self, **kwargs) -> None:
        self.kwargs = kwargs
        self.host, self.port, self.key = "emulator.test", "8081", EMULATOR_KEY
        self.started = self.stopped = False
        type(self).instances.append(self)

    def start(self):
        if self.fail_start:
            raise RuntimeError("pull access denied for the emulator image")
        self.started = True
        return self

    def get_logs(self):
        return (f"Starting with key {self.key}\nStarted\n".encode(), b"")

    def stop(self):
        self.stopped = True


class FakeCosmosClient:
    """Stands in for azure.cosmos.CosmosClient: records what it was given."""

    instances: list = []
    fail = False

    def __init__(self, url, credential, **kwargs) -> None:
        self.url, self.credential, self.kwargs = url, credential, kwargs
        self.databases, self.closed = [], False
        headers = {"x-ms-serviceversion": "version=2.14.0.0"}
        self.client_connection = type("Conn", (), {"last_response_headers": headers})()
        type(self).instances.append(self)

    def get_database_account(self):
        if self.fail:
            raise ConnectionError("emulator not answering yet")
        return {}

    def create_database(self, name):
        self.databases.append(name)

    def close(self):
        self.closed = True


@pytest.fixture
def fake_client(monkeypatch):
    client = type("FakeCosmosClient", (FakeCosmosClient,), {"instances": []})
    monkeypatch.setattr(azure_cosmos, "CosmosClient", client)
    return client


@pytest.fixture
def fake_emulator(monkeypatch, fake_client):
    module = pytest.importorskip("testcontainers.community.cosmosdb")
    emulator = type("FakeEmulator", (FakeEmulator,), {"instances": []})
    monkeypatch.setattr(module, "CosmosDBNoSQLEndpointContainer", emulator)
    return emulator


def test_the_emulator_route_builds_an_https_store_without_tls_verification(fake_emulator,
                                                                          fake_client):
    store = PROVIDER.from_container()
    [container], [admin] = fake_emulator.instances, fake_client.instances
    assert container.kwargs == {"image": cosmosdb.IMAGE}
    assert cosmosdb.IMAGE.startswith("mcr.microsoft.com/cosmosdb/linux/azure-cosmos-emulator")
    assert container.started
    assert (store.route, store.kind, store.lacks) == ("testcontainers", "real", {})
    assert store.version == "Cosmos DB 2.14.0.0"
    assert (admin.url, admin.credential) == ("https://emulator.test:8081", EMULATOR_KEY)
    assert admin.kwargs["connection_verify"] is False
    assert admin.kwargs["enable_endpoint_discovery"] is False
    ns = store.create_namespace("emu")
    assert admin.databases == [ns.name]
    assert ns.url == f"cosmosdbsql+https://:{QUOTED_KEY}@emulator.test:8081"
    assert ns.settings == {"cosmosdbsql_database_name": ns.name}
    assert ns.trust_settings == {"cosmosdbsql_verify_tls": False}
    assert store.log_tail().endswith("Started") and EMULATOR_KEY not in store.log_tail()
    store.stop()
    assert container.stopped and admin.closed


@pytest.mark.parametrize("host, verified", [("acct.documents.azure.com", True),
                                            ("localhost", False), ("127.0.0.1", False)])
def test_a_given_https_url_verifies_tls_except_on_loopback(fake_client, host, verified):
    """On a loopback address it is the emulator, whose certificate is self-signed."""
    store = PROVIDER.from_url(f"cosmosdbsql://:{QUOTED_KEY}@{host}")
    [admin] = fake_client.instances
    assert admin.url == f"https://{host}:443"
    assert admin.kwargs["connection_verify"] is verified
    ns = store.create_namespace("tls")
    assert ns.trust_settings == ({} if verified else {"cosmosdbsql_verify_tls": False})
    assert json.loads(json.dumps(store.connection_info()))["verify_tls"] is verified
    store.stop()


@pytest.mark.parametrize("failure", ["start", "account"])
def test_an_emulator_that_fails_falls_through_to_the_local_server(fake_emulator, fake_client,
                                                                  monkeypatch, tmp_path,
                                                                  server, failure):
    fake_emulator.fail_start = failure == "start"
    fake_client.fail = failure == "account"
    with pytest.raises(StoreUnavailable, match="testcontainers could not start it"):
        PROVIDER.from_container()
    [container] = fake_emulator.instances
    assert container.stopped
    assert all(c.closed for c in fake_client.instances)

    monkeypatch.delenv(PROVIDER.env_var, raising=False)
    monkeypatch.setattr(containers, "container_engine", lambda: (True, "an engine answered"))
    store = obtain(PROVIDER, str(tmp_path))
    try:
        assert (store.route, store.kind) == ("local", "independent")
        assert len(fake_emulator.instances) == 2  # the ladder tried the emulator first
        assert fake_emulator.instances[1].stopped
        status, _, _ = raw_request(store.endpoint.port, "GET", "/")
        assert status == 200
    finally:
        store.stop()


# ----------------------------------------------------------- the local route
@pytest.fixture
def bare_path(tmp_path, monkeypatch):
    """A PATH holding only what a test puts there."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    monkeypatch.setenv("PATH", str(bindir))
    return bindir


def _executable(path, text: str) -> None:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def test_without_node_the_reason_says_how_to_install_it(bare_path, monkeypatch, tmp_path):
    reason = PROVIDER.local_unavailable_reason()
    assert reason is not None and "`node`" in reason
    assert "apt-get install nodejs npm" in reason and "https://nodejs.org" in reason
    monkeypatch.delenv(PROVIDER.env_var, raising=False)
    monkeypatch.setattr(containers, "container_engine",
                        lambda: (False, "no container engine answered (simulated)"))
    with pytest.raises(StoreUnavailable) as info:
        obtain(PROVIDER, str(tmp_path))
    message = str(info.value)
    assert "--backend-url=URL or CELERY_CONFORMANCE_COSMOSDB_URL=URL" in message
    assert "no container engine answered (simulated)" in message
    assert "apt-get install nodejs npm" in message


def test_an_old_node_is_refused(bare_path):
    _executable(bare_path / "node", "#!/bin/sh\necho v14.21.3\n")
    reason = PROVIDER.local_unavailable_reason()
    assert reason is not None and "version 14" in reason and "older than 16" in reason


def test_npm_is_needed_only_until_the_server_is_cached(bare_path, monkeypatch, tmp_path,
                                                       server):
    if NODE is None:
        pytest.skip("no node")
    (bare_path / "node").symlink_to(NODE)
    cache_of_the_module_server = cosmosdb.cache_root()
    monkeypatch.setenv("CELERY_CONFORMANCE_CACHE", str(tmp_path / "empty-cache"))
    reason = PROVIDER.local_unavailable_reason()
    assert reason is not None and "`npm`" in reason and "apt-get install nodejs npm" in reason
    monkeypatch.setenv("CELERY_CONFORMANCE_CACHE", cache_of_the_module_server)
    assert PROVIDER.local_unavailable_reason() is None


# ----------------------------------------------- installing into the cache
FAKE_NPM = """#!/bin/sh
# records each run, then installs a stand-in package under --prefix
PATH=/usr/bin:/bin
echo run >> "{runs}"
prefix=""
while [ $# -gt 0 ]; do
  if [ "$1" = "--prefix" ]; then prefix="$2"; shift; fi
  shift
done
echo "npm http fetch GET 200 https://registry.example/@vercel%2fcosmosdb-server"
sleep {sleep}
if [ "{fail}" = "1" ]; then echo "npm error code E404"; echo "npm error 404 Not Found"; exit 1; fi
mkdir -p "$prefix/node_modules/@vercel/cosmosdb-server"
echo '{{"version": "1.0.1"}}' > "$prefix/node_modules/@vercel/cosmosdb-server/package.json"
"""


@pytest.fixture
def fake_npm(bare_path, tmp_path, monkeypatch):
    """An npm on PATH that takes a while, and a fresh cache."""
    runs = tmp_path / "npm-runs"
    monkeypatch.setenv("CELERY_CONFORMANCE_CACHE", str(tmp_path / "cache"))

    def make(sleep: float = 0.0, fail: bool = False):
        _executable(bare_path / "npm",
                    FAKE_NPM.format(runs=runs, sleep=sleep, fail="1" if fail else "0"))
        return runs

    return make


def test_racing_installers_install_once(fake_npm, tmp_path):
    runs = fake_npm(sleep=0.5)
    results, errors = [], []

    def install():
        try:
            results.append(cosmosdb.ensure_server_installed(progress=io.StringIO()))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=install) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert runs.read_text().split() == ["run"], "npm ran more than once"
    assert len(set(results)) == 1 and results[0].startswith(str(tmp_path / "cache"))
    assert cosmosdb.server_installed()
    leftovers = [p for p in os.listdir(tmp_path / "cache" / "npm") if ".tmp-" in p]
    assert leftovers == []


def test_progress_is_reported_while_npm_runs(fake_npm, monkeypatch):
    fake_npm(sleep=0.6)
    monkeypatch.setattr(cosmosdb, "PROGRESS_EVERY_S", 0.2)
    progress = io.StringIO()
    cosmosdb.ensure_server_installed(progress=progress)
    lines = progress.getvalue().splitlines()
    assert lines[0].startswith("celery-conformance: installing @vercel/cosmosdb-server 1.0.1")
    assert any("still installing" in line for line in lines[1:-1])
    assert lines[-1].startswith("celery-conformance: installed @vercel/cosmosdb-server 1.0.1")


def test_a_failed_install_names_npms_output_and_leaves_nothing(fake_npm, tmp_path):
    runs = fake_npm(fail=True)
    with pytest.raises(StoreUnavailable) as info:
        cosmosdb.ensure_server_installed(progress=io.StringIO())
    message = str(info.value)
    assert "npm install of @vercel/cosmosdb-server@1.0.1 exited with code 1" in message
    assert "npm error 404 Not Found" in message
    assert not cosmosdb.server_installed()
    assert [p for p in os.listdir(tmp_path / "cache" / "npm") if not p.endswith(".lock")] == []
    fake_npm(fail=False)  # the next attempt installs
    cosmosdb.ensure_server_installed(progress=io.StringIO())
    assert runs.read_text().split() == ["run", "run"]
    assert cosmosdb.server_installed()
