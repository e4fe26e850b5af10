"""The ArangoDB store provider: its three routes, namespaces, and Celery's
built-in ArangoDbBackend working against what it provides."""

from __future__ import annotations

import json

import pytest
import requests

from celery_conformance import containers
from celery_conformance.containers import StoreUnavailable, arangodb, obtain


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """The emulated server, as the ladder's local route starts it."""
    started = arangodb.PROVIDER.from_local(str(tmp_path_factory.mktemp("arango-store")))
    yield started
    started.stop()


@pytest.fixture
def namespace(store):
    ns = store.create_namespace("store test")
    yield ns
    store.drop_namespace(ns)


def password_of(store) -> str:
    return store.connection_info()["password"]


def test_local_route_is_labelled_emulated(store):
    assert arangodb.PROVIDER.local_unavailable_reason() is None
    assert arangodb.PROVIDER.local_kind == "emulated"
    assert store.capability_overrides == {"expiry_granularity_s": 1.5}
    assert (store.name, store.kind, store.route) == ("arangodb", "emulated", "local")
    assert store.version == "3.12.0-emulated"
    assert store.describe() == "arangodb 3.12.0-emulated (emulated, via local)"


def test_the_password_shows_nowhere(store, namespace):
    secret = password_of(store)
    assert len(secret) >= 16
    for text in (repr(store), store.describe(), repr(namespace), store.log_tail()):
        assert secret not in text
    with pytest.raises(arangodb.ArangoRequestError) as error:
        store.request("GET", "/_api/collection/none-such")
    assert secret not in str(error.value)


def test_namespace_is_a_database_holding_the_celery_collection(store, namespace):
    session = requests.Session()
    session.auth = ("root", password_of(store))
    assert namespace.name.startswith("cc_")
    assert namespace.name in session.get(f"{store.base_url}/_api/database").json()["result"]
    collection = session.get(f"{store.base_url}/_db/{namespace.name}/_api/collection/celery")
    assert collection.status_code == 200
    assert namespace.url.startswith("arangodb://root:")
    assert namespace.url.endswith(f"/{namespace.name}/celery")
    assert namespace.settings == {}


def test_drop_namespace_removes_the_database_and_tolerates_a_second_drop(store):
    ns = store.create_namespace("dropped")
    store.drop_namespace(ns)
    store.drop_namespace(ns)
    session = requests.Session()
    session.auth = ("root", password_of(store))
    assert ns.name not in session.get(f"{store.base_url}/_api/database").json()["result"]


def test_celery_arangodb_backend_against_the_namespace(namespace):
    """Store, read, forget, mget and cleanup with Celery's own backend."""
    from celery import Celery, states

    app = Celery("arango-smoke", backend=namespace.url)
    app.conf.result_expires = 60
    backend = app.backend
    assert type(backend).__name__ == "ArangoDbBackend"
    backend.store_result("task-1", {"answer": 42}, states.SUCCESS)
    backend.store_result("task-2", None, states.STARTED)
    assert backend.get_task_meta("task-1")["result"] == {"answer": 42}
    assert backend.get_task_meta("task-2")["status"] == states.STARTED
    found = list(backend.mget([backend.get_key_for_task(t)
                               for t in ("task-1", "task-404", "task-2")]))
    assert json.loads(found[0])["result"] == {"answer": 42}
    assert found[1] is None and json.loads(found[2])["status"] == states.STARTED
    backend.forget("task-2")
    backend.forget("task-2")                          # a second forget is no error
    assert backend.get_task_meta("task-2")["status"] == states.PENDING
    backend.cleanup()
    # Celery stores each result as a JSON string: record.task.date_done is null,
    # and null < any string, so ArangoDB's documented comparison makes this
    # cleanup delete every result, expired or not (a defect of Celery's query)
    assert backend.get_task_meta("task-1")["status"] == states.PENDING


def test_connection_info_round_trip(store, namespace):
    info = store.connection_info()
    json.dumps(info)                                    # crosses processes as JSON
    other = arangodb.from_connection_info(info)
    assert (other.kind, other.route, other.version) == (store.kind, store.route, store.version)
    ns = other.create_namespace("worker")
    other.drop_namespace(ns)


@pytest.mark.parametrize("url, expected", [
    ("arangodb://root:p%40ss@db.example:8530/celery/results",
     ("http://db.example:8530", "root", "p@ss")),
    ("arangodb://user:pw@host", ("http://host:8529", "user", "pw")),
    ("https://user:pw@host:443", ("https://host:443", "user", "pw")),
    ("http://host:8529", ("http://host:8529", "root", "")),
])
def test_url_forms(url, expected):
    assert arangodb.parse_url(url) == expected


def test_recognizes_celery_urls_only():
    assert arangodb.PROVIDER.recognizes("arangodb://u:p@h:8529/db/coll")
    assert not arangodb.PROVIDER.recognizes("redis://localhost")
    with pytest.raises(StoreUnavailable):
        arangodb.parse_url("redis://localhost")


def test_url_route_uses_the_given_server(store, monkeypatch, tmp_path):
    secret = password_of(store)
    port = store.base_url.rsplit(":", 1)[1]
    monkeypatch.setenv(arangodb.PROVIDER.env_var, f"arangodb://root:{secret}@127.0.0.1:{port}")
    given = obtain(arangodb.PROVIDER, str(tmp_path))
    assert given.route == "url"
    assert given.kind == "emulated"          # the server says so in /_api/version
    ns = given.create_namespace("given")
    given.drop_namespace(ns)
    given.stop()                             # not ours: must not stop the server
    assert store.ready()


def test_https_urls_carry_the_protocol_to_celery():
    https = arangodb.ArangoStore("https://db.example:8529", "root", "pw", kind="real",
                                 version="3.12.4")
    https.request = lambda *a, **kw: {}
    ns = https.create_namespace("tls")
    assert ns.url.startswith("arangodb://root:pw@db.example:8529/")
    assert ns.settings == {"arangodb_backend_settings": {"http_protocol": "https",
                                                         "verify": True}}


# ------------------------------------------------------- testcontainers wiring
class FakeContainer:
    """Stands in for ArangoDbContainer; its URL points at the emulated server."""

    instances: list = []
    url = ""
    fail_start = False

    def __init__(self, image, **kwargs):
        self.image, self.kwargs = image, kwargs
        self.started = self.stopped = False
        type(self).instances.append(self)

    def start(self):
        if self.fail_start:
            raise RuntimeError("pull access denied for arangodb/arangodb")
        self.started = True
        return self

    def get_connection_url(self):
        assert self.started
        return self.url

    def stop(self):
        self.stopped = True


def fake_container_module(monkeypatch, url: str, fail_start: bool = False):
    module = pytest.importorskip("testcontainers.community.arangodb")
    fake = type("ArangoDbContainer", (FakeContainer,),
                {"instances": [], "url": url, "fail_start": fail_start})
    monkeypatch.setattr(module, "ArangoDbContainer", fake)
    return fake


def test_from_container_waits_for_an_authenticated_version(store, monkeypatch):
    fake = fake_container_module(monkeypatch, store.base_url)
    # the container is started with a fresh password: make it the emulated server's
    monkeypatch.setattr(arangodb.secrets, "token_hex", lambda n: password_of(store))
    started = arangodb.PROVIDER.from_container()
    [container] = fake.instances
    assert container.image == arangodb.IMAGE == "arangodb/arangodb:3.12"
    assert container.kwargs == {"arango_root_password": password_of(store)}
    assert started.route == "testcontainers" and started.container is container
    assert started.version.startswith("3.12")
    started.stop()
    assert container.stopped


def test_a_container_that_fails_to_start_is_unavailable_and_stopped(monkeypatch):
    fake = fake_container_module(monkeypatch, "http://127.0.0.1:1", fail_start=True)
    with pytest.raises(StoreUnavailable, match="pull access denied"):
        arangodb.PROVIDER.from_container()
    [container] = fake.instances
    assert container.stopped


def test_the_ladder_falls_back_to_the_emulated_server(monkeypatch, tmp_path):
    monkeypatch.delenv(arangodb.PROVIDER.env_var, raising=False)
    monkeypatch.setattr(containers, "container_engine",
                        lambda: (False, "no container engine answered (simulated)"))
    local = obtain(arangodb.PROVIDER, str(tmp_path))
    try:
        assert (local.route, local.kind) == ("local", "emulated")
        assert any(p.name.startswith("arangodb-emulator-") for p in tmp_path.iterdir())
    finally:
        local.stop()
    assert local.process.proc.poll() is not None


# ------------------------------------------------------ a non-admin account
@pytest.fixture
def user_store(store):
    """The same server, its namespaces named by a non-admin user each."""
    return arangodb.from_connection_info({**store.connection_info(), "account": "user"})


def test_a_non_admin_namespace_is_reached_by_its_own_user_only(store, user_store):
    """With account "user", a namespace's URL names a user of its own, who
    reads and writes that database and no other; dropping the namespace
    drops the user."""
    from urllib.parse import unquote, urlsplit

    first, second = (user_store.create_namespace(n) for n in ("mine", "theirs"))
    try:
        parts = urlsplit(first.url)
        user, secret = unquote(parts.username), unquote(parts.password)
        assert user != "root" and secret != password_of(store)
        assert "non-admin" in user_store.describe()
        session = requests.Session()
        session.auth = (user, secret)
        own = session.post(f"{store.base_url}/_db/{first.name}/_api/document/celery",
                           json={"_key": "k", "v": 1})
        assert own.status_code in (201, 202), own.text
        for forbidden in (f"/_db/{second.name}/_api/document/celery",
                          "/_db/_system/_api/document/celery"):
            refused = session.post(store.base_url + forbidden, json={"_key": "k"})
            assert refused.status_code in (401, 403), (forbidden, refused.text)
    finally:
        user_store.drop_namespace(second)
        user_store.drop_namespace(first)
    gone = requests.get(f"{store.base_url}/_api/user/{user}", auth=("root", password_of(store)))
    assert gone.status_code == 404


def test_the_contract_holds_on_the_reference_backend_as_a_non_admin_user(harness, monkeypatch):
    """The reference ArangoDB backend meets the contract's store-facing
    clauses when its URL names a user with access to its own database only
    (the account a deployment gives it), not root."""
    monkeypatch.setenv(arangodb.ACCOUNT_ENV, "user")
    monkeypatch.setenv("HYPOTHESIS_PROFILE", "ci")
    result = harness.run_contract(
        "test_roundtrip", "test_states", "test_groups", "test_forget", "test_concurrency",
        "test_expiry", args=("--backend=arangodb", "--require-store=arangodb", "-p", "no:xdist"),
        subprocess=True)
    outcomes = result.parseoutcomes()
    assert not outcomes.get("failed") and not outcomes.get("errors"), \
        result.stdout.str()[-4000:]
    assert outcomes["passed"] >= 40 and "non-admin user" in result.stdout.str() + \
        result.stderr.str()
