"""The reference Cosmos DB backend's own guarantees, beyond the contract:
URL forms, id encoding, the key never shown, batched mget, classification of
errors, and TLS verification, against the real local server."""

from __future__ import annotations

import http.server
import json
import logging
import re
import socketserver
import threading
import uuid
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from celery import Celery, states
from celery.exceptions import ImproperlyConfigured

from celery_conformance.backends.cosmosdbsql import (ID_LIMIT, CosmosDBSQLBackend, MGET_BATCH,
                                                    document_id)

pytest.importorskip("azure.cosmos")

from _live import (check_first_writes_in_parallel, check_url_form_through_celery,  # noqa: E402
                   live_store_fixtures)

KEY = "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw=="
QUOTED = quote(KEY, safe="")


def backend_for(url: str, **conf) -> CosmosDBSQLBackend:
    app = Celery("cosmos-tests", set_as_current=False)
    app.conf.update(dict({"result_serializer": "json", "accept_content": ["json"]}, **conf))
    return CosmosDBSQLBackend(app=app, url=url)


# ------------------------------------------------------------------ URLs
@pytest.mark.parametrize("url, endpoint", [
    (f"cosmosdbsql://:{QUOTED}@acct.documents.azure.com", "https://acct.documents.azure.com:443/"),
    (f"cosmosdbsql://:{QUOTED}@localhost:8081", "https://localhost:8081/"),
    (f"https://:{QUOTED}@localhost:8081", "https://localhost:8081/"),
    (f"http://:{QUOTED}@127.0.0.1:9000", "http://127.0.0.1:9000/"),
    (f"conformance_cosmosdbsql+http://:{QUOTED}@127.0.0.1:9000", "http://127.0.0.1:9000/"),
    (f"conformance_cosmosdbsql://:{QUOTED}@localhost:8081", "https://localhost:8081/"),
])
def test_scheme_is_explicit_never_guessed_from_the_port(url, endpoint):
    """cosmosdbsql:// means https on any port (Celery's backend switches to
    http on every port but 443); http:// and https:// say what they mean;
    the quoted key is unquoted."""
    backend = backend_for(url)
    assert backend._endpoint == endpoint
    assert backend._key == KEY


@pytest.mark.parametrize("url, fragment", [
    ("", "Missing Cosmos DB URL"),
    ("redis://:k@host:1", "scheme 'redis'"),
    (f"https://{QUOTED}@host:1", "no key"),
    ("https://:key@host:notaport", "port is not a number"),
    ("https://:key@:443", "no host"),
])
def test_malformed_url_raises_improperly_configured(url, fragment):
    with pytest.raises(ImproperlyConfigured, match=fragment) as caught:
        backend_for(url)
    assert KEY not in str(caught.value)


@pytest.mark.parametrize("setting, value", [
    ("cosmosdbsql_consistency_level", "Sometimes"),
    ("cosmosdbsql_max_retry_attempts", -1),
    ("cosmosdbsql_max_retry_wait_time", "long"),
    ("cosmosdbsql_database_name", "a/b"),
    ("cosmosdbsql_collection_name", ""),
    ("cosmosdbsql_verify_tls", 3),
    ("result_expires", "soon"),
])
def test_bad_setting_raises_improperly_configured_naming_it(setting, value):
    with pytest.raises(ImproperlyConfigured) as caught:
        backend_for(f"https://:{QUOTED}@host:443", **{setting: value})
    message = str(caught.value)
    assert setting.replace("cosmosdbsql_", "") in message.lower().replace(" ", "_") or \
        setting in message, message


def test_key_never_in_repr_or_uri():
    """SC1 for the URL forms: repr() and as_uri() mask the key."""
    backend = backend_for(f"cosmosdbsql://:{QUOTED}@acct.documents.azure.com")
    for text in (repr(backend), backend.as_uri()):
        assert KEY not in text and QUOTED not in text, text
    assert backend.as_uri(include_password=True).endswith("@acct.documents.azure.com:443")
    assert QUOTED in backend.as_uri(include_password=True)


# ------------------------------------------------------------- id encoding
keys = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=180)


def key_of_document_id(doc_id: str):
    """The key a percent-encoded doc_id stands for (None for a hashed one):
    the encoding is reversible."""
    from urllib.parse import unquote

    return None if doc_id.startswith("%H") else unquote(doc_id)


@given(a=keys, b=keys)
def test_document_ids_are_valid_distinct_and_reversible(a, b):
    """Every key maps to a valid Cosmos id (no / \\ ? #, at most 255
    characters); distinct keys get distinct ids; short ids decode back."""
    for key in (a, b):
        doc_id = document_id(key)
        assert not set("/\\?#") & set(doc_id), doc_id
        assert len(doc_id) <= ID_LIMIT
        decoded = key_of_document_id(doc_id)
        assert decoded is None or decoded == key
    if a != b:
        assert document_id(a) != document_id(b)


def test_case_and_percent_forms_stay_distinct():
    ids = {document_id(k) for k in ("a/b", "a%2Fb", "A/B", "a%2fb", "a\\b", "a?b", "a#b")}
    assert len(ids) == 7


# ------------------------------------------------------- against the server
store, namespace, make = live_store_fixtures("cosmosdb", backend_for)


class RequestLog(logging.Handler):
    """Collects the azure-core HTTP log records of one test."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list = []

    def emit(self, record) -> None:
        self.records.append(record)

    def __enter__(self):
        self.logger = logging.getLogger("azure")
        self.level = self.logger.level
        self.logger.setLevel(logging.DEBUG)
        self.logger.addHandler(self)
        return self

    def __exit__(self, *exc):
        self.logger.removeHandler(self)
        self.logger.setLevel(self.level)

    def text(self) -> str:
        return "\n".join(r.getMessage() for r in self.records)


def test_documented_url_forms_work_through_celery(namespace):
    """``conformance_cosmosdbsql+http(s)://`` selects this backend in
    ``Celery(backend=...)`` and reaches the server (``conformance_cosmosdbsql://``
    means https, which the independent server here does not serve: its
    parsing is checked above)."""
    check_url_form_through_celery("conformance_cosmosdbsql+" + namespace.url,
                                  CosmosDBSQLBackend,
                                  **{**namespace.settings, **namespace.trust_settings})


def test_mget_is_one_query_per_batch(make):
    """mget of n keys makes ceil(n / MGET_BATCH) requests, not one read per key
    (counted in azure-core's log of the requests it sends)."""
    backend = make()
    ids = [f"t{i}-{uuid.uuid4().hex[:6]}" for i in range(MGET_BATCH + 5)]
    for task_id in ids[::2]:
        backend.store_result(task_id, {"id": task_id}, states.SUCCESS)
    keys = [backend.get_key_for_task(t) for t in ids]
    with RequestLog() as log:
        values = backend.mget(keys)
    sent = [r.getMessage() for r in log.records if "Request URL" in r.getMessage()]
    assert len(values) == len(ids)
    assert [v is not None for v in values] == [i % 2 == 0 for i in range(len(ids))]
    assert len(sent) == 2, f"mget of {len(ids)} keys sent {len(sent)} requests: {sent}"


def test_stored_success_survives_late_writes_and_documents_carry_expiry(make):
    backend = make(result_expires=120)
    task_id = "a/b?c#d%e\\f " + uuid.uuid4().hex
    backend.store_result(task_id, 1, states.SUCCESS)
    backend.store_result(task_id, 2, states.STARTED)
    backend.store_result(task_id, 3, states.SUCCESS)
    assert backend.get_task_meta(task_id)["result"] == 1
    doc = backend.container.read_item(document_id(backend.get_key_for_task(task_id)),
                                      partition_key=document_id(backend.get_key_for_task(task_id)))
    assert doc["ttl"] == 120 and doc["status"] == states.SUCCESS
    assert doc["key"] == backend.get_key_for_task(task_id)


def test_database_and_container_created_once_by_concurrent_backends(namespace, make):
    """Several backends creating the same database and container at once all
    succeed (409 from a concurrent creator is no error)."""
    backends = [make(cosmosdbsql_collection_name="shared") for _ in range(6)]
    check_first_writes_in_parallel(backends)


def test_key_never_in_logs(make):
    """SC1: with azure-core's HTTP logging at DEBUG, no record holds the key."""
    with RequestLog() as log:
        backend = make()
        backend.store_result("logged", {"v": 1}, states.SUCCESS)
        backend.get_task_meta("logged", cache=False)
    assert log.records, "azure-core logged nothing at DEBUG"
    assert KEY not in log.text() and QUOTED not in log.text()


def test_binary_serializer_values_round_trip(make):
    """Values of binary serializers (pickle) are stored base64-encoded."""
    backend = make(result_serializer="pickle", accept_content=["pickle"],
                   result_accept_content=["pickle"])
    value = {"set": {1, 2}, "bytes": b"\x00\xff", "tuple": (1, "a")}
    backend.store_result("pickled", value, states.SUCCESS)
    assert backend.get_task_meta("pickled", cache=False)["result"] == value


# ------------------------------------------------------ error classification
def _account(port: int) -> dict:
    endpoint = [{"name": "local", "databaseAccountEndpoint": f"http://127.0.0.1:{port}/"}]
    return {"id": "local", "writableLocations": endpoint, "readableLocations": endpoint,
            "enableMultipleWriteLocations": False,
            "userConsistencyPolicy": {"defaultConsistencyLevel": "Session"},
            "systemReplicationPolicy": {"minReplicaSetSize": 1, "maxReplicasetSize": 4},
            "readPolicy": {"primaryReadCoefficient": 1, "secondaryReadCoefficient": 1},
            "queryEngineConfiguration": "{}"}


class _StatusServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


def _answering(status: int, headers: dict):
    """A real HTTP server on 127.0.0.1 that reads as a Cosmos account (GET /)
    and answers every other request with ``status``; counts those."""
    class Handler(http.server.BaseHTTPRequestHandler):
        count = 0

        def _answer(self):
            length = int(self.headers.get("content-length") or 0)
            if length:
                self.rfile.read(length)
            if self.path == "/":
                body = json.dumps(_account(self.server.server_address[1])).encode()
                self.send_response(200)
            else:
                type(self).count += 1
                body = b'{"code": "Err", "message": "injected"}'
                self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_DELETE = _answer

        def log_message(self, *args):
            pass

    server = _StatusServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, Handler


@pytest.mark.parametrize("status, retryable", [
    (503, True), (408, True), (400, False), (401, False), (403, False), (413, False)])
def test_http_errors_classified(status, retryable):
    """An error status from a real server is retryable exactly when the same
    request may later succeed."""
    server, handler = _answering(status, {})
    try:
        backend = backend_for(f"http://:{QUOTED}@127.0.0.1:{server.server_address[1]}",
                              result_backend_always_retry=False)
        with pytest.raises(Exception) as caught:
            backend.get("some-key")
        assert backend.exception_safe_to_retry(caught.value) is retryable, caught.value
        assert KEY not in str(caught.value)
        backend.close()
    finally:
        server.shutdown()
        server.server_close()


def test_throttling_retried_by_the_sdk_within_max_retry_attempts():
    """429 with a retry-after is retried cosmosdbsql_max_retry_attempts times,
    then raised as a retryable error."""
    server, handler = _answering(429, {"x-ms-retry-after-ms": "1"})
    try:
        backend = backend_for(f"http://:{QUOTED}@127.0.0.1:{server.server_address[1]}",
                              result_backend_always_retry=False,
                              cosmosdbsql_max_retry_attempts=2)
        with pytest.raises(Exception) as caught:
            backend.get("some-key")
        assert backend.exception_safe_to_retry(caught.value)
        backend.close()
    finally:
        server.shutdown()
        server.server_close()
    # the throttled request and its 2 retries
    assert handler.count == 3, handler.count


def test_refused_connection_is_retryable():
    from celery_conformance.containers._process import free_port

    backend = backend_for(f"http://:{QUOTED}@127.0.0.1:{free_port()}",
                          result_backend_always_retry=False)
    with pytest.raises(Exception) as caught:
        backend.get("k")
    assert backend.exception_safe_to_retry(caught.value), repr(caught.value)


def test_proxy_from_the_environment_is_used(make, namespace, monkeypatch):
    """HTTP_PROXY is honoured (read once when the client is made): requests
    go through the proxy, seen on the wire by a real TCP proxy."""
    from _proxy import TcpProxy

    from celery_conformance.containers.cosmosdb import parse_url

    proxy = TcpProxy(parse_url(namespace.url).port)
    try:
        for var in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
            monkeypatch.delenv(var, raising=False)
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.port}")
        backend = make()
        try:
            backend.get_task_meta("through-the-proxy", cache=False)
        except Exception:  # the store may refuse proxy-form requests; the wire is what counts
            pass
    finally:
        proxy.close()
    assert any(path.startswith("http://") for _, path in proxy.requests), proxy.requests


# ------------------------------------------- against a server answering as a real account
@pytest.fixture(scope="module")
def strict_store(tmp_path_factory):
    """The local server refusing metadata writes with the key (403) and
    documents over 2 MiB (413), as a locked-down real account does."""
    from celery_conformance.containers.cosmosdb import PROVIDER, RealAccountRules

    reason = PROVIDER.local_unavailable_reason()
    if reason is not None:
        pytest.skip(f"not run: {reason}")
    server = PROVIDER.from_local(str(tmp_path_factory.mktemp("cosmosdb-strict")),
                                 rules=RealAccountRules(no_metadata_writes=True,
                                                        document_limit=True))
    yield server
    server.stop()


@pytest.fixture
def strict_make(strict_store):
    """(namespace, make): a database pre-created with the container
    ``celerycol`` (/id, TTL on), as an administrator does, and backends on it."""
    ns = strict_store.create_namespace("strict")
    made = []

    def make_backend(**conf):
        backend = backend_for(ns.url, **dict(ns.settings, **conf))
        made.append(backend)
        return backend

    yield ns, make_backend
    for backend in made:
        backend.close()
    strict_store.drop_namespace(ns)


def _statuses(store, status: int) -> int:
    """How many requests the server has answered with ``status`` so far."""
    return len(re.findall(rf" (?:GET|POST|PUT|DELETE) \S+ {status} ", store.log_tail(100000)))


def test_without_metadata_writes_the_backend_uses_what_exists(strict_store, strict_make):
    """It reads the database and the container first and creates nothing:
    no create is sent (none refused), and results round-trip."""
    ns, make = strict_make
    refused_before = _statuses(strict_store, 403)
    backend = make()
    backend.store_result("exists", {"v": 1}, states.SUCCESS)
    assert backend.get_task_meta("exists", cache=False)["result"] == {"v": 1}
    assert backend.get_task_meta("never-stored", cache=False)["status"] == states.PENDING
    assert _statuses(strict_store, 403) == refused_before


@pytest.mark.parametrize("missing", ["container", "database"])
def test_without_metadata_writes_what_is_missing_is_named_with_the_fix(strict_make, missing):
    ns, make = strict_make
    if missing == "container":
        backend = make(cosmosdbsql_collection_name="absent")
        named = f"container '{ns.name}/absent'"
    else:
        backend = make(cosmosdbsql_database_name="cc_absent_database")
        named = "database 'cc_absent_database'"
    with pytest.raises(ImproperlyConfigured) as caught:
        backend.store_result("t", 1, states.SUCCESS)
    message = str(caught.value)
    assert f"{named}" in message and "does not exist" in message, message
    assert "403" in message and "--partition-key-path /id --ttl -1" in message
    assert "--disable-key-based-metadata-write-access false" in message
    assert KEY not in message and QUOTED not in message
    # nothing is cached: once an administrator creates it, the backend works
    with pytest.raises(ImproperlyConfigured):
        backend.get_task_meta("t", cache=False)


def test_a_403_on_creating_what_exists_meanwhile_is_no_error(strict_make, monkeypatch):
    """Read says missing, then someone else creates it: the create answers
    403, the backend reads it again and goes on."""
    ns, make = strict_make
    backend = make()
    real = CosmosDBSQLBackend._properties_or_none
    seen = []

    def container_missing_at_first(read):
        seen.append(read)
        return None if len(seen) == 2 else real(read)   # 1: the database, 2: the container

    monkeypatch.setattr(CosmosDBSQLBackend, "_properties_or_none",
                        staticmethod(container_missing_at_first))
    backend.store_result("raced", 5, states.SUCCESS)
    assert len(seen) == 3, "the container was not read again after the refused create"
    assert backend.get_task_meta("raced", cache=False)["result"] == 5


@pytest.mark.parametrize("partition_key_path, default_ttl, fragments", [
    ("/other", -1, ["partitioned on ['/other']", "not ['/id']", "read PENDING",
                    "cosmosdbsql_collection_name", "--partition-key-path /id"]),
    ("/id", None, ["time to live off", "Celery's own cosmosdbsql backend",
                   "On (no default)", "--ttl -1"]),
])
def test_a_container_set_up_otherwise_is_refused_naming_the_fix(strict_store, strict_make,
                                                                partition_key_path,
                                                                default_ttl, fragments):
    ns, make = strict_make
    strict_store.create_container_as_admin(ns.name, "elsewhere", partition_key_path,
                                           default_ttl=default_ttl)
    backend = make(cosmosdbsql_collection_name="elsewhere")
    with pytest.raises(ImproperlyConfigured) as caught:
        backend.store_result("t", 1, states.SUCCESS)
    message = str(caught.value)
    assert f"'{ns.name}/elsewhere'" in message
    for fragment in fragments:
        assert fragment in message, (fragment, message)


def test_a_container_without_ttl_is_fine_when_results_never_expire(strict_store, strict_make):
    """Time to live matters only with result_expires: without it documents
    carry ttl -1 (never expire) and nothing relies on the container's TTL."""
    ns, make = strict_make
    strict_store.create_container_as_admin(ns.name, "no_ttl", default_ttl=None)
    backend = make(cosmosdbsql_collection_name="no_ttl", result_expires=None)
    backend.store_result("kept", 1, states.SUCCESS)
    doc_id = document_id(backend.get_key_for_task("kept"))
    assert backend.container.read_item(doc_id, partition_key=doc_id)["ttl"] == -1


@pytest.mark.parametrize("expires, ttl", [(0.2, 1), (120, 120), (10 ** 12, 2147483647)])
def test_item_ttl_is_within_cosmos_bounds(make, expires, ttl):
    """Per-item ttl: whole seconds, at least 1, at most 2147483647 (Cosmos
    DB's largest ttl; larger is refused by the service)."""
    backend = make(result_expires=expires)
    backend.store_result("ttl", 1, states.SUCCESS)
    doc_id = document_id(backend.get_key_for_task("ttl"))
    assert backend.container.read_item(doc_id, partition_key=doc_id)["ttl"] == ttl


# ----------------------------------------------------------- document size
def _document_size(backend, task_id: str, result) -> int:
    """The size the backend measures for storing ``result`` under ``task_id``."""
    meta = backend._get_result_meta(result=result, state=states.SUCCESS, traceback=None,
                                    request=None)
    meta["task_id"] = task_id
    return backend._stored_size(backend.get_key_for_task(task_id), backend.encode(meta),
                                states.SUCCESS)


def _largest_under(backend, task_id: str, result_of, limit: int) -> int:
    """The largest n whose result ``result_of(n)`` makes a document of at most ``limit`` bytes."""
    low, high = 0, limit
    while low < high:
        middle = (low + high + 1) // 2
        if _document_size(backend, task_id, result_of(middle)) <= limit:
            low = middle
        else:
            high = middle - 1
    return low


SIZED_RESULTS = {
    # pickled bytes: base64 in the document (4/3 of the value)
    "pickled bytes": (dict(result_serializer="pickle", accept_content=["pickle"],
                           result_accept_content=["pickle"]), lambda n: b"\x00" * n),
    # control characters: \u0001 in the encoded value, \\u0001 in the document
    "JSON-escaped text": ({}, lambda n: "\x01" * n),
}


@pytest.mark.parametrize("kind", list(SIZED_RESULTS))
def test_results_are_sized_as_the_stored_json_document(strict_store, strict_make, kind):
    """Just under the limit: stored on a server that refuses documents over
    2 MiB. Just over: ResultTooLargeError naming the limit, nothing sent,
    nothing stored (never the service's 413), although the encoded value
    itself is well under 2 MiB."""
    from celery_conformance.backends._common import ResultTooLargeError
    from celery_conformance.containers.cosmosdb import MAX_DOCUMENT_BYTES

    ns, make = strict_make
    settings, result_of = SIZED_RESULTS[kind]
    backend = make(**settings)
    limit = backend.max_payload_bytes
    assert MAX_DOCUMENT_BYTES - 2048 < limit <= MAX_DOCUMENT_BYTES
    n = _largest_under(backend, "fits", result_of, limit - 64)   # written_at's digits vary
    backend.store_result("fits", result_of(n), states.SUCCESS)
    assert backend.get_task_meta("fits", cache=False)["result"] == result_of(n)

    too_large = result_of(n + 2048)
    value = backend.encode({"result": too_large})
    assert len(value) < MAX_DOCUMENT_BYTES - 16 * 1024, "the value alone must fit"
    assert _document_size(backend, "over", too_large) > MAX_DOCUMENT_BYTES
    rejected_before = _statuses(strict_store, 413)
    with pytest.raises(ResultTooLargeError) as caught:
        backend.store_result("over", too_large, states.SUCCESS)
    assert f"size limit of {limit} bytes" in str(caught.value)
    assert "nothing was stored" in str(caught.value)
    assert backend.get_task_meta("over", cache=False)["status"] == states.PENDING
    assert _statuses(strict_store, 413) == rejected_before, "the document was sent"


# -------------------------------------------------------------- throttling
def test_operations_succeed_under_throttling(tmp_path):
    """Every second request answers 429 with x-ms-retry-after-ms: the SDK
    waits and retries (Celery's own retry loop off), and every operation
    succeeds with the right answer."""
    from celery_conformance.containers.cosmosdb import PROVIDER, RealAccountRules

    reason = PROVIDER.local_unavailable_reason()
    if reason is not None:
        pytest.skip(f"not run: {reason}")
    store = PROVIDER.from_local(str(tmp_path), rules=RealAccountRules(
        throttle_fraction=0.5, retry_after_ms=20))
    backend = None
    try:
        ns = store.create_namespace("throttled")
        backend = backend_for(ns.url, result_backend_always_retry=False, result_expires=60,
                              **ns.settings)
        for n in range(5):
            backend.store_result(f"t{n}", n, states.SUCCESS)
        backend.store_result("t0", "late", states.STARTED)   # conditional write: kept SUCCESS
        assert [backend.get_task_meta(f"t{n}", cache=False)["result"] for n in range(5)] == [
            0, 1, 2, 3, 4]
        keys = [backend.get_key_for_task(f"t{n}") for n in range(6)]
        assert [v is not None for v in backend.mget(keys)] == [True] * 5 + [False]
        backend.forget("t1")
        assert backend.get_task_meta("t1", cache=False)["status"] == states.PENDING
        backend.cleanup()
        assert backend.get_task_meta("t2", cache=False)["result"] == 2
        assert _statuses(store, 429) >= 5, "the server throttled nothing"
    finally:
        if backend is not None:
            backend.close()
        store.stop()
