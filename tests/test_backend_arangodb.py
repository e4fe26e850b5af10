"""The reference ArangoDB backend's own guarantees, beyond the contract: URL
and settings precedence, key encoding, the password never shown, one AQL
query for mget, error classification and the indexes it creates, against the
store the ladder gives (the emulated server here)."""

from __future__ import annotations

import re
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from celery import Celery, states
from celery.exceptions import ImproperlyConfigured

pytest.importorskip("pyArango")

from celery_conformance.backends.arangodb import (  # noqa: E402
    KEY_LIMIT_BYTES, ArangoDbBackend, document_key)

from _live import (check_first_writes_in_parallel, check_url_form_through_celery,  # noqa: E402
                   live_store_fixtures)
from _proxy import TcpProxy  # noqa: E402

#: ArangoDB's documented key alphabet
VALID_KEY = re.compile(r"\A[A-Za-z0-9_\-:.@()+,=;$!*'%]{1,254}\Z")


def backend_for(url, **conf) -> ArangoDbBackend:
    app = Celery("arango-tests", set_as_current=False)
    app.conf.update(dict({"result_serializer": "json", "accept_content": ["json"]}, **conf))
    return ArangoDbBackend(app=app, url=url)


# ------------------------------------------------------------ configuration
def test_url_parts_win_over_settings_which_win_over_defaults():
    backend = backend_for("arangodb://alice:s3cret@db.example:9000/results/tasks",
                          arangodb_backend_settings={"host": "other", "port": 1,
                                                     "database": "x", "http_protocol": "https",
                                                     "verify": False})
    assert (backend.host, backend.port, backend.database, backend.collection) == \
        ("db.example", 9000, "results", "tasks")
    assert (backend.username, backend.password) == ("alice", "s3cret")
    assert backend.http_protocol == "https" and backend.verify is False
    assert backend.arangodb_url == "https://db.example:9000"
    defaults = backend_for(None)
    assert (defaults.host, defaults.port, defaults.database, defaults.collection) == \
        ("127.0.0.1", 8529, "celery", "celery")
    assert defaults.verify is True, "TLS verification must be on by default"


def test_explicit_https_scheme_and_quoted_password():
    backend = backend_for("https://root:p%40ss%2Fw@db:8530/d/c")
    assert backend.http_protocol == "https" and backend.password == "p@ss/w"


@pytest.mark.parametrize("url, fragment", [
    ("arangodb://root@host:notaport/db/coll", "port is not a number"),
    ("arangodb://root@host:8529/onlydb", "path must be /database/collection"),
    ("arangodb://root@host:8529/a/b/c", "path must be /database/collection"),
    ("redis://root@host:8529/a/b", "unknown scheme 'redis'"),
    ("no-scheme-here", "no 'scheme://' part"),
    ("arangodb://root@host:8529/1bad/c", "database name"),
])
def test_malformed_url_raises_improperly_configured(url, fragment):
    with pytest.raises(ImproperlyConfigured, match=re.escape(fragment)):
        backend_for(url)


@pytest.mark.parametrize("settings, fragment", [
    ("not a dict", "must be a dict"),
    ({"http_protocol": "ftp"}, "http_protocol"),
    ({"port": "eighty"}, "port"),
    ({"verify": 3}, "verify"),
    ({"collection": "bad name"}, "collection name"),
])
def test_bad_settings_raise_improperly_configured(settings, fragment):
    with pytest.raises(ImproperlyConfigured, match=re.escape(fragment)):
        backend_for(None, arangodb_backend_settings=settings)


def test_password_never_in_repr_or_uri():
    backend = backend_for("arangodb://alice:Sup3rSecretPw@db:8529/d/c")
    for text in (repr(backend), backend.as_uri(), str(backend)):
        assert "Sup3rSecretPw" not in text, text
    assert "Sup3rSecretPw" in backend.as_uri(include_password=True)


# -------------------------------------------------------------- key encoding
keys = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=180)


def key_of_document_key(doc_key: str):
    """The key a percent-encoded doc_key stands for (None for a hashed one):
    the encoding is reversible."""
    from urllib.parse import unquote

    return None if doc_key.startswith("%H") else unquote(doc_key)


@given(a=keys, b=keys)
def test_document_keys_are_valid_distinct_and_reversible(a, b):
    """Every key maps to a valid ArangoDB _key (documented alphabet, at most
    254 bytes); distinct keys get distinct _keys; unhashed ones decode back."""
    for key in (a, b):
        doc_key = document_key(key)
        assert VALID_KEY.match(doc_key), doc_key
        assert len(doc_key.encode()) <= KEY_LIMIT_BYTES
        decoded = key_of_document_key(doc_key)
        assert decoded is None or decoded == key
    if a != b:
        assert document_key(a) != document_key(b)


# ------------------------------------------------------- against the server
store, namespace, make = live_store_fixtures("arangodb", backend_for)


def _through(proxy: TcpProxy, url: str) -> str:
    return re.sub(r"@[^/]+/", f"@127.0.0.1:{proxy.port}/", url, count=1)


@pytest.mark.parametrize("scheme", ["conformance_arangodb", "conformance_arangodb+arangodb",
                                    "conformance_arangodb+http"])
def test_documented_url_forms_work_through_celery(namespace, scheme):
    """Each URL form the README and the module docstring give selects this
    backend in ``Celery(backend=...)`` and reaches the server."""
    check_url_form_through_celery(f"{scheme}://{namespace.url.split('://', 1)[1]}",
                                  ArangoDbBackend,
                                  **{**namespace.settings, **namespace.trust_settings})


def test_mget_is_one_aql_query(make, namespace):
    """mget of many keys sends one cursor request (following its batches), not
    one request per key; counted on the wire by a real TCP proxy."""
    backend = make()
    ids = [f"m{i}-{uuid.uuid4().hex[:6]}" for i in range(150)]
    for task_id in ids[::3]:
        backend.store_result(task_id, {"id": task_id}, states.SUCCESS)
    port = int(re.search(r":(\d+)/", namespace.url).group(1))
    proxy = TcpProxy(port)
    try:
        reader = make(_through(proxy, namespace.url))
        reader.db  # connect and prepare first: only mget's requests are counted
        before = len(proxy.requests)
        values = reader.mget([reader.get_key_for_task(t) for t in ids])
        sent = proxy.requests[before:]
    finally:
        proxy.close()
    assert [v is not None for v in values] == [i % 3 == 0 for i in range(len(ids))]
    cursor_posts = [r for r in sent if r[0] == "POST" and "/_api/cursor" in r[1]]
    assert len(cursor_posts) == 1, f"mget sent {sent}"


def test_a_response_cut_mid_body_is_retryable(make, namespace):
    """The connection breaks while a response is read (requests raises
    ChunkedEncodingError or a connection error): the same request may
    succeed, so it is retried."""
    task_id = f"cut-{uuid.uuid4().hex[:8]}"
    port = int(re.search(r":(\d+)/", namespace.url).group(1))
    proxy = TcpProxy(port)
    try:
        make().store_result(task_id, "x" * 200_000, states.SUCCESS)
        # the reader's connection carries small answers, then the large one,
        # which is cut mid-body
        proxy.cut_after(20_000, "down")
        reader = make(_through(proxy, namespace.url), result_backend_always_retry=False)
        with pytest.raises(Exception) as caught:
            reader.get_task_meta(task_id, cache=False)
    finally:
        proxy.close()
    assert proxy.stats["cuts"] == 1, proxy.stats
    assert reader.exception_safe_to_retry(caught.value), repr(caught.value)


def test_stored_document_has_indexed_fields_and_keeps_success(make):
    backend = make(result_expires=300)
    task_id = "a/b?c#d%e\\f ü " + uuid.uuid4().hex
    backend.store_result(task_id, 1, states.SUCCESS)
    backend.store_result(task_id, 2, states.STARTED)
    assert backend.get_task_meta(task_id)["result"] == 1
    key = backend.get_key_for_task(task_id)
    [doc] = list(backend._rows(backend._query("RETURN DOCUMENT(@@collection, @k)",
                                              k=document_key(key))))
    assert doc["key"] == key and doc["status"] == states.SUCCESS
    assert doc["expire_at"] == pytest.approx(doc["written_at"] + 300)
    indexes = backend.db[backend.collection].getIndexes()
    kinds = {(i["type"], tuple(i["fields"])) for group in indexes.values()
             for i in (group.values() if isinstance(group, dict) else [])
             for i in [getattr(i, "infos", i)]}
    assert ("ttl", ("expire_at",)) in kinds and ("persistent", ("written_at",)) in kinds, kinds


def test_concurrent_backends_create_database_and_collection_once(namespace, make):
    """Backends preparing the same new collection at once all succeed."""
    base = namespace.url.rsplit("/", 1)[0]
    backends = [make(f"{base}/shared_{namespace.name[-6:]}") for _ in range(5)]
    check_first_writes_in_parallel(backends)


def test_create_missing_false_refuses_a_missing_collection(make, namespace):
    base = namespace.url.rsplit("/", 1)[0]
    backend = make(f"{base}/absent", arangodb_backend_settings={"create_missing": False})
    with pytest.raises(ImproperlyConfigured, match="does not exist"):
        backend.get_task_meta("x", cache=False)


def test_refused_connection_is_retryable_and_bad_query_is_not(make):
    from celery_conformance.containers._process import free_port

    dead = backend_for(f"arangodb://root:pw@127.0.0.1:{free_port()}/d/c",
                       result_backend_always_retry=False)
    with pytest.raises(Exception) as caught:
        dead.get_task_meta("x", cache=False)
    assert dead.exception_safe_to_retry(caught.value), repr(caught.value)
    assert "pw@" not in str(caught.value)
    backend = make()
    with pytest.raises(Exception) as caught:
        backend._query("FOR x IN @@collection RETURN")  # a parse error
    assert not backend.exception_safe_to_retry(caught.value), repr(caught.value)
