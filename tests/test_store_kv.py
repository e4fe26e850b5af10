"""The redis, memcached and filesystem stores: namespaces, adoption, the URL route.

Real servers (Debian's redis-server and memcached, started by the stores'
local route) and Celery's own backends; the only fakes are the missing
binaries of the last tests.
"""

from __future__ import annotations

import importlib
import os
import shutil
import uuid

from urllib.parse import urlsplit, urlunsplit

import pytest
from celery import Celery, states

from celery_conformance import containers
from celery_conformance.containers import filesystem, memcached, redis as redis_store

PASSWORD = "Hunter2-n0t-in-any-report"

#: store module -> the Celery backend written through it
BACKENDS = {
    "redis": (redis_store, "celery.backends.redis:RedisBackend"),
    "memcached": (memcached, "celery.backends.cache:CacheBackend"),
    "filesystem": (filesystem, "celery.backends.filesystem:FilesystemBackend"),
}


def make_backend(name: str, ns: containers.Namespace):
    """Celery's backend for store ``name``, configured as the suite does."""
    spec = BACKENDS[name][1]
    module, _, cls = spec.partition(":")
    app = Celery(set_as_current=False)
    app.conf.update(ns.settings)
    app.conf.result_backend = f"{spec}+{ns.url}"
    return getattr(importlib.import_module(module), cls)(app=app, url=ns.url)


def status(name: str, ns: containers.Namespace, task_id: str) -> str:
    return make_backend(name, ns).get_task_meta(task_id, cache=False)["status"]


def store_one(name: str, ns: containers.Namespace, result=42) -> str:
    task_id = str(uuid.uuid4())
    make_backend(name, ns).store_result(task_id, result, states.SUCCESS)
    return task_id


@pytest.fixture
def local_only(monkeypatch):
    """No container engine, no URL from the environment: the local route."""
    monkeypatch.setattr(containers, "container_engine",
                        lambda: (False, "no container engine answered (disabled here)"))
    for _, (module, _) in BACKENDS.items():
        monkeypatch.delenv(module.PROVIDER.env_var, raising=False)


def started(name: str, workdir) -> containers.StoreServer:
    provider = BACKENDS[name][0].PROVIDER
    reason = provider.local_unavailable_reason()
    if reason is not None:
        pytest.skip(f"not run: {reason}")
    return containers.obtain(provider, str(workdir))


@pytest.fixture(params=sorted(BACKENDS))
def kv(request, local_only, tmp_path):
    """(store name, store the harness started); stopped afterwards."""
    store = started(request.param, tmp_path)
    yield request.param, store
    store.stop()


@pytest.fixture
def redis_server(local_only, tmp_path):
    store = started("redis", tmp_path)
    yield store
    store.stop()


def redis_client(url: str):
    import redis

    return redis.Redis.from_url(url)


# ------------------------------------------------------------- namespaces
def test_the_store_is_obtained_by_its_expected_route(kv):
    name, store = kv
    assert store.name == name
    expected = ("embedded", "embedded") if name == "filesystem" else ("real", "local")
    assert (store.kind, store.route) == expected
    assert store.version not in ("", "unknown")


def test_a_result_in_one_namespace_is_not_seen_in_another(kv):
    name, store = kv
    a, b = store.create_namespace("a"), store.create_namespace("b")
    task_id = store_one(name, a)
    assert status(name, a, task_id) == states.SUCCESS
    assert status(name, b, task_id) == states.PENDING


def test_a_one_mebibyte_result_fits(kv):
    """memcached is started with -I 4m: its default item limit is 1 MiB."""
    name, store = kv
    ns = store.create_namespace("big")
    task_id = store_one(name, ns, result="x" * (1 << 20))
    assert len(make_backend(name, ns).get_task_meta(task_id, cache=False)["result"]) == 1 << 20


def test_dropping_a_namespace_leaves_the_others(kv):
    name, store = kv
    a, b = store.create_namespace("a"), store.create_namespace("b")
    in_a, in_b = store_one(name, a), store_one(name, b)
    backend_a = make_backend(name, a)  # Celery's filesystem backend needs its directory
    store.drop_namespace(a)
    assert status(name, b, in_b) == states.SUCCESS
    # memcached cannot enumerate keys: its drop removes nothing
    expected = states.SUCCESS if name == "memcached" else states.PENDING
    assert backend_a.get_task_meta(in_a, cache=False)["status"] == expected


def test_redis_namespaces_are_databases_numbered_across_processes(redis_server):
    """Two stores on one server (the controller's and an xdist worker's
    adopted one) never hand out the same database."""
    adopted = redis_store.from_connection_info(redis_server.connection_info())
    try:
        urls = [s.create_namespace("n").url for s in (redis_server, adopted, redis_server)]
    finally:
        adopted.stop()
    numbers = [int(url.rsplit("/", 1)[1]) for url in urls]
    assert len(set(numbers)) == 3 and 0 not in numbers
    assert all(url.startswith(redis_server.url[:-1]) for url in urls)


def test_redis_drop_flushes_only_its_database(redis_server):
    ns = redis_server.create_namespace("a")
    store_one("redis", ns)
    assert redis_client(ns.url).dbsize() == 1
    redis_server.drop_namespace(ns)
    assert redis_client(ns.url).dbsize() == 0
    assert redis_client(redis_server.url).exists(redis_store.COUNTER_KEY)


# ------------------------------------------------------------- adoption
def test_from_connection_info_reaches_the_same_server(kv):
    name, store = kv
    module = BACKENDS[name][0]
    adopted = module.from_connection_info(store.connection_info())
    try:
        assert (adopted.name, adopted.route, adopted.version) == (
            store.name, store.route, store.version)
        ns = adopted.create_namespace("adopted")
        task_id = store_one(name, ns)
        # the harness's own store sees what went through the adopted one
        twin = containers.Namespace(name=ns.name, url=ns.url, store=store,
                                    settings=ns.settings)
        assert status(name, twin, task_id) == states.SUCCESS
        if name != "memcached":
            backend = make_backend(name, ns)
            store.drop_namespace(twin)
            assert backend.get_task_meta(task_id, cache=False)["status"] == states.PENDING
    finally:
        adopted.stop()
    assert store.create_namespace("still-up")  # stopping the adopted one left it running


# ------------------------------------------------------------- URL route
@pytest.mark.parametrize("name", ["redis", "memcached"])
def test_a_given_url_gets_key_prefix_namespaces(name, local_only, tmp_path):
    server = started(name, tmp_path)
    try:
        given = BACKENDS[name][0].PROVIDER.from_url(server.url)
        assert (given.route, given.kind) == ("url", "real")
        a, b = given.create_namespace("a"), given.create_namespace("b")
        for ns in (a, b):
            assert ns.url == server.url
            assert ns.settings == {
                "result_backend_transport_options": {"global_keyprefix": f"{ns.name}:"}}
        in_a, in_b = store_one(name, a), store_one(name, b)
        assert status(name, b, in_a) == status(name, a, in_b) == states.PENDING
        assert status(name, a, in_a) == status(name, b, in_b) == states.SUCCESS
        if name == "redis":
            client = redis_client(server.url)
            assert sorted(client.keys()) == sorted([
                f"{a.name}:celery-task-meta-{in_a}".encode(),
                f"{b.name}:celery-task-meta-{in_b}".encode()])
            client.set("someone-else:key", "kept")
        given.drop_namespace(a)
        assert status(name, b, in_b) == states.SUCCESS
        if name == "redis":
            assert status(name, a, in_a) == states.PENDING
            assert sorted(client.keys()) == sorted([
                f"{b.name}:celery-task-meta-{in_b}".encode(), b"someone-else:key"])
        given.stop()
        assert server.create_namespace("still-up")  # a given server is never stopped
    finally:
        server.stop()


def test_a_given_directory_gets_one_subdirectory_per_namespace(local_only, tmp_path):
    given = filesystem.PROVIDER.from_url(f"file://{tmp_path}/given")
    assert (given.route, given.kind) == ("url", "embedded")
    a, b = given.create_namespace("a"), given.create_namespace("b")
    assert a.url == f"file://{tmp_path}/given/{a.name}"
    in_a, in_b = store_one("filesystem", a), store_one("filesystem", b)
    assert status("filesystem", b, in_a) == states.PENDING
    given.drop_namespace(a)
    assert sorted(os.listdir(tmp_path / "given")) == [b.name]
    assert status("filesystem", b, in_b) == states.SUCCESS


def test_the_environment_variable_names_the_filesystem_directory(local_only, tmp_path,
                                                                 monkeypatch):
    monkeypatch.setenv(filesystem.PROVIDER.env_var, str(tmp_path / "from-env"))
    store = containers.obtain(filesystem.PROVIDER, str(tmp_path / "work"))
    assert (store.route, store.directory) == ("url", str(tmp_path / "from-env"))


@pytest.mark.parametrize("name, url", [
    ("redis", "redis://h:6379/0"), ("redis", "rediss://h/1"), ("redis", "unix:///tmp/r.sock"),
    ("redis", "socket:///tmp/r.sock"), ("memcached", "memcached://127.0.0.1:11211/"),
    ("memcached", "memcache://a:1;b:2/"), ("filesystem", "file:///tmp/results"),
])
def test_each_store_recognizes_its_urls(name, url):
    assert containers.providers()[name].recognizes(url)
    others = {n: p for n, p in containers.providers().items() if n != name}
    assert not any(p.recognizes(url) for p in others.values())


# ------------------------------------------------------------- secrets
def test_a_redis_password_is_never_shown(redis_server):
    admin = redis_client(redis_server.url)
    admin.acl_setuser("conformance", enabled=True, passwords=[f"+{PASSWORD}"],
                      keys=["*"], channels=["*"], commands=["+@all"])
    split = urlsplit(redis_server.url)
    url = urlunsplit(split._replace(
        netloc=f"conformance:{PASSWORD}@{split.hostname}:{split.port}"))
    given = redis_store.PROVIDER.from_url(url)
    try:
        ns = given.create_namespace("secret")
        assert status("redis", ns, store_one("redis", ns)) == states.SUCCESS
        for text in (repr(given), given.describe(), repr(ns)):
            assert PASSWORD not in text
    finally:
        given.stop()


def test_a_memcached_password_is_never_shown(local_only, tmp_path):
    server = started("memcached", tmp_path)
    try:
        given = memcached.PROVIDER.from_url(
            server.url.replace("memcached://", f"memcached://u:{PASSWORD}@"))
        assert given.version == server.version
        for text in (repr(given), given.describe(), repr(given.create_namespace("s"))):
            assert PASSWORD not in text
    finally:
        server.stop()


# ------------------------------------------------------------- missing binaries
@pytest.mark.parametrize("name, package", [("redis", "redis-server"),
                                           ("memcached", "memcached")])
def test_a_missing_binary_names_the_debian_package(name, package, local_only, tmp_path,
                                                   monkeypatch):
    provider = BACKENDS[name][0].PROVIDER
    with monkeypatch.context() as m:
        m.setattr(shutil, "which", lambda *a, **k: None)
        m.setattr(os.path, "exists", lambda path: False)
        reason = provider.local_unavailable_reason()
        with pytest.raises(containers.StoreUnavailable) as info:
            containers.obtain(provider, str(tmp_path))
    assert reason is not None and f"Debian package {package}" in reason
    assert f"(apt-get install {package})" in str(info.value)
