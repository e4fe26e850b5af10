"""How stores are obtained: the ladder, the engine probe, testcontainers wiring."""

from __future__ import annotations

import sys
from typing import Optional

import pytest

from celery_conformance import containers
from celery_conformance.containers import StoreProvider, StoreServer, StoreUnavailable, obtain


# ------------------------------------------------------------------ ladder
class FakeStore(StoreServer):
    def __init__(self, route: str, url: Optional[str] = None) -> None:
        super().__init__()
        self.route, self.url = route, url

    def create_namespace(self, label):  # pragma: no cover - not used
        raise NotImplementedError

    def drop_namespace(self, namespace):  # pragma: no cover - not used
        raise NotImplementedError


class FakeProvider(StoreProvider):
    name = "fakestore"
    env_var = "CELERY_CONFORMANCE_FAKESTORE_URL"
    local_install_hint = "apt-get install fakestore-server"

    def __init__(self, container: str = "ok", local: Optional[str] = None,
                 embedded: bool = False) -> None:
        self.container, self.local, self.embedded = container, local, embedded
        self.calls: list = []

    def from_url(self, url):
        self.calls.append("url")
        return FakeStore("url", url)

    def from_container(self):
        self.calls.append("container")
        if self.container != "ok":
            raise StoreUnavailable(self.container)
        return FakeStore("testcontainers")

    def local_unavailable_reason(self):
        return self.local

    def from_local(self, workdir):
        self.calls.append("local")
        return FakeStore("local")


@pytest.fixture
def engine(monkeypatch):
    """Set what the container-engine probe answers."""
    def set_engine(ok: bool, reason: str = "a container engine answered") -> None:
        monkeypatch.setattr(containers, "container_engine", lambda: (ok, reason))
    set_engine(False, "no container engine answered (simulated)")
    monkeypatch.delenv(FakeProvider.env_var, raising=False)
    return set_engine


def test_a_given_url_comes_first(engine, tmp_path):
    engine(True)
    provider = FakeProvider()
    store = obtain(provider, str(tmp_path), url="fake://given")
    assert (store.route, store.url, provider.calls) == ("url", "fake://given", ["url"])


def test_the_environment_variable_is_a_given_url(engine, tmp_path, monkeypatch):
    engine(True)
    monkeypatch.setenv(FakeProvider.env_var, "fake://from-env")
    provider = FakeProvider()
    store = obtain(provider, str(tmp_path))
    assert (store.route, store.url, provider.calls) == ("url", "fake://from-env", ["url"])


def test_testcontainers_come_second_when_an_engine_answers(engine, tmp_path):
    engine(True)
    provider = FakeProvider()
    assert obtain(provider, str(tmp_path)).route == "testcontainers"
    assert provider.calls == ["container"]


def test_local_binaries_come_third(engine, tmp_path):
    provider = FakeProvider()
    assert obtain(provider, str(tmp_path)).route == "local"
    assert provider.calls == ["local"]


def test_a_failing_container_falls_through_to_local_binaries(engine, tmp_path):
    engine(True)
    provider = FakeProvider(container="image cannot be pulled")
    assert obtain(provider, str(tmp_path)).route == "local"
    assert provider.calls == ["container", "local"]


def test_nothing_available_names_all_three_remedies(engine, tmp_path):
    provider = FakeProvider(local="no fakestore binary found")
    with pytest.raises(StoreUnavailable) as info:
        obtain(provider, str(tmp_path))
    message = str(info.value)
    assert provider.calls == []
    assert "store 'fakestore' is not available here" in message
    assert "--backend-url=URL or CELERY_CONFORMANCE_FAKESTORE_URL=URL" in message
    assert "no container engine answered (simulated)" in message
    assert "no fakestore binary found (apt-get install fakestore-server)" in message


def test_the_container_failure_is_the_remedy_named_when_the_engine_answered(engine, tmp_path):
    engine(True)
    provider = FakeProvider(container="image cannot be pulled", local="no binary")
    with pytest.raises(StoreUnavailable, match="image cannot be pulled"):
        obtain(provider, str(tmp_path))


def test_embedded_stores_need_no_ladder(engine, tmp_path):
    engine(True)
    provider = FakeProvider(embedded=True)
    assert obtain(provider, str(tmp_path)).route == "local"
    assert provider.calls == ["local"]


# ------------------------------------------------------------ engine probe
class FakeDockerClient:
    def __init__(self, fail: bool) -> None:
        self.fail, self.closed = fail, False

    def ping(self):
        if self.fail:
            raise ConnectionError("Error while fetching server API version: no socket")
        return True

    def close(self):
        self.closed = True


def test_engine_probe_is_cached(fresh_engine_probe, monkeypatch):
    import docker

    monkeypatch.delenv("CELERY_CONFORMANCE_NO_CONTAINERS", raising=False)
    made = []

    def from_env(**kwargs):
        made.append(FakeDockerClient(fail=False))
        return made[-1]

    monkeypatch.setattr(docker, "from_env", from_env)
    assert fresh_engine_probe() == (True, "a container engine answered")
    assert fresh_engine_probe() == (True, "a container engine answered")
    assert len(made) == 1, "the engine was probed more than once"
    assert made[0].closed


def test_engine_probe_failure_is_an_answer_not_an_exception(fresh_engine_probe, monkeypatch):
    import docker

    monkeypatch.delenv("CELERY_CONFORMANCE_NO_CONTAINERS", raising=False)
    monkeypatch.setattr(docker, "from_env", lambda **kw: FakeDockerClient(fail=True))
    ok, reason = fresh_engine_probe()
    assert ok is False
    assert reason == ("no container engine answered (Error while fetching server API "
                      "version: no socket)")


def test_missing_docker_socket_gives_false_with_a_reason(fresh_engine_probe, monkeypatch,
                                                        tmp_path):
    """The real probe, against a socket that does not exist."""
    pytest.importorskip("docker")
    monkeypatch.delenv("CELERY_CONFORMANCE_NO_CONTAINERS", raising=False)
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-such-docker.sock")
    ok, reason = fresh_engine_probe()
    assert ok is False
    assert reason.startswith("no container engine answered (")


def test_engine_probe_without_the_docker_package(fresh_engine_probe, monkeypatch):
    monkeypatch.delenv("CELERY_CONFORMANCE_NO_CONTAINERS", raising=False)
    monkeypatch.setitem(sys.modules, "docker", None)  # import docker -> ImportError
    ok, reason = fresh_engine_probe()
    assert ok is False and "'docker' package is not installed" in reason


def test_engine_probe_can_be_disabled(fresh_engine_probe, monkeypatch):
    monkeypatch.setenv("CELERY_CONFORMANCE_NO_CONTAINERS", "1")
    assert fresh_engine_probe() == (False, "disabled by CELERY_CONFORMANCE_NO_CONTAINERS")


# ------------------------------------------------------ testcontainers wiring
class FakeContainer:
    """Stands in for a testcontainers class: records how it was built."""

    instances: list = []
    url = ""
    fail_start = False

    def __init__(self, image, **kwargs) -> None:
        self.image, self.kwargs = image, kwargs
        self.started = self.stopped = False
        type(self).instances.append(self)

    def start(self):
        if self.fail_start:
            raise RuntimeError("pull access denied for the image")
        self.started = True
        return self

    def get_connection_url(self) -> str:
        assert self.started, "asked for the URL of a container that was not started"
        return self.url

    def stop(self):
        self.stopped = True


class FakeEngine:
    """What the store's create_engine returns: answers the version query."""

    def __init__(self, url, version: str) -> None:
        self.url, self.version = url, version

    def connect(self):
        engine = self

        class Conn:
            def __enter__(self):
                return self

            def __exit__(self, *exc):
                return False

            def execute(self, statement):
                class Result:
                    def scalar_one(self):
                        return engine.version
                return Result()

        return Conn()

    def dispose(self):
        pass


def _fake_testcontainers(monkeypatch, module: str, cls: str, url: str, version: str,
                         fail_start: bool = False):
    tc = pytest.importorskip(f"testcontainers.community.{module}")
    fake = type(cls, (FakeContainer,), {"instances": [], "url": url, "fail_start": fail_start})
    monkeypatch.setattr(tc, cls, fake)
    engines = []

    def create_engine(url, **kwargs):
        engines.append(FakeEngine(url, version))
        return engines[-1]

    import sqlalchemy

    monkeypatch.setattr(sqlalchemy, "create_engine", create_engine)
    return fake, engines


@pytest.mark.parametrize("container_url", [
    "postgresql+psycopg2://test:test@localhost:49153/test",
    "postgresql://test:test@localhost:49153/test",
])
def test_postgresql_from_container(monkeypatch, container_url):
    from celery_conformance.containers import postgresql

    fake, engines = _fake_testcontainers(monkeypatch, "postgres", "PostgresContainer",
                                         container_url, "15.6 (Debian 15.6-1)")
    store = postgresql.PROVIDER.from_container()
    [container] = fake.instances
    assert container.image == postgresql.IMAGE == "postgres:15"
    assert container.kwargs == {"driver": "psycopg2"}
    assert container.started
    assert store.route == "testcontainers" and store.container is container
    assert store.version == "15.6"
    assert store.url.render_as_string(hide_password=False) == (
        "postgresql+psycopg2://test:test@localhost:49153/test")
    assert engines[0].url == store.url
    store.stop()
    assert container.stopped


def test_mysql_from_container(monkeypatch):
    from celery_conformance.containers import mysql

    fake, engines = _fake_testcontainers(monkeypatch, "mysql", "MySqlContainer",
                                         "mysql+pymysql://root:test@localhost:49154/test",
                                         "10.11.6-MariaDB-1:10.11.6+maria~ubu2204")
    store = mysql.PROVIDER.from_container()
    [container] = fake.instances
    assert container.image == mysql.IMAGE == "mariadb:10.11"
    # root: every test namespace is a database of its own (CREATE DATABASE)
    assert container.kwargs == {"dialect": "pymysql", "username": "root"}
    assert store.route == "testcontainers" and store.container is container
    assert store.url.drivername == "mysql+pymysql"
    assert store.url.query == {"charset": "utf8mb4"}
    assert (store.url.username, store.url.host, store.url.port, store.url.database) == (
        "root", "localhost", 49154, "test")
    assert store.version.startswith("10.11.6-MariaDB")
    store.stop()
    assert container.stopped


@pytest.mark.parametrize("name, module, cls", [
    ("postgresql", "postgres", "PostgresContainer"),
    ("mysql", "mysql", "MySqlContainer"),
])
def test_a_container_that_fails_to_start_is_unavailable_and_stopped(monkeypatch, name,
                                                                     module, cls):
    """So that obtain() goes on to the local binaries instead of crashing."""
    fake, _ = _fake_testcontainers(monkeypatch, module, cls, "unused://", "0",
                                   fail_start=True)
    provider = containers.providers()[name]
    with pytest.raises(StoreUnavailable, match="pull access denied"):
        provider.from_container()
    [container] = fake.instances
    assert container.stopped
