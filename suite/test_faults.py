"""RY4-RY5: retry and recovery under real faults.

Faults are real: a TCP proxy (containers.faults.FaultProxy) between the
backend and its server resets connections and refuses new ones, and a
server the harness started is restarted for real. Nothing is monkeypatched;
only the backend's retry sleeps are recorded (and still slept).

A restart would disturb every other test sharing the server, so restart
tests run against a private server of the same store, started for them
(only where the harness can start one: not on a URL or container you gave).
"""

from __future__ import annotations

import re
import uuid

import pytest

from celery import states

from .helpers import read

#: retry settings of the fault tests: many quick retries, so a fault that
#: heals within a second is outlived
RETRYING = {"result_backend_always_retry": True, "result_backend_max_retries": 30,
            "result_backend_base_sleep_between_retries_ms": 50,
            "result_backend_max_sleep_between_retries_ms": 300}
#: how long a fault lasts before the proxy heals (seconds)
FAULT_S = 0.6


def _new_id() -> str:
    return str(uuid.uuid4())


def _sleeping_recorder(backend) -> list:
    """Record the backend's retry sleeps (Backend._sleep), still sleeping them."""
    sleeps: list = []
    real = backend._sleep

    def sleep(amount):
        sleeps.append(amount)
        return real(amount)

    backend._sleep = sleep
    return sleeps


@pytest.fixture
def fault_proxy(store_server):
    """A fault proxy in front of the store's server (not run for embedded
    stores, which have no connection to break)."""
    from celery_conformance.containers.faults import FaultProxy

    address = store_server.network_address()
    if address is None:
        pytest.skip(f"not run: {store_server.name} is embedded: there is no network "
                    f"connection to break")
    host, port = address
    if host not in ("127.0.0.1", "localhost"):
        pytest.skip(f"not run: the fault proxy breaks only servers on 127.0.0.1, and "
                    f"{store_server.name} is on another host")
    proxy = FaultProxy(port)
    yield proxy
    proxy.close()


@pytest.fixture
def proxied_backend(make_backend, store_server, fault_proxy):
    """``proxied_backend(**settings)``: a backend of the target class whose
    every connection goes through ``fault_proxy``."""
    def build(**conf):
        namespace = store_server.through(make_backend.namespace, fault_proxy.port)
        return make_backend(namespace=namespace, **conf)

    return build


# ------------------------------------------------------------------- RY4
FAULTS = {
    # open connections die (a server-side reset, a NAT timeout)
    "reset": lambda proxy: proxy.reset(),
    # the server is gone for a while: open connections die, new ones are refused
    "reset-and-refuse": lambda proxy: (proxy.reset(), proxy.refuse()),
}
OPERATIONS = {
    "store_result": lambda backend, task_id: backend.store_result(
        task_id, {"v": "after"}, states.SUCCESS),
    "get_task_meta": lambda backend, task_id: read(backend, task_id),
}


@pytest.mark.clause("RY4")
@pytest.mark.parametrize("operation", sorted(OPERATIONS))
@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_real_transient_faults_are_retried_until_the_server_answers(
        proxied_backend, fault_proxy, fault, operation):
    """With result_backend_always_retry, an operation that meets a real
    transient fault (its connections reset, new ones refused for a while)
    is retried, and succeeds once the server answers again: the caller
    never sees the fault."""
    backend = proxied_backend(**RETRYING)
    task_id = _new_id()
    backend.store_result(task_id, {"v": "before"}, states.SUCCESS)   # connections open
    assert read(backend, task_id)["result"] == {"v": "before"}
    sleeps = _sleeping_recorder(backend)
    FAULTS[fault](fault_proxy)
    connections = fault_proxy.stats["connections"]
    fault_proxy.heal_after(FAULT_S)
    target = _new_id() if operation == "store_result" else task_id
    try:
        outcome = OPERATIONS[operation](backend, target)
    except Exception as exc:
        pytest.fail(f"{operation} raised {type(exc).__name__}: {exc} after {len(sleeps)} "
                    f"retries, although the server answered again after {FAULT_S}s "
                    f"({fault}; proxy {fault_proxy.stats})")
    fault_proxy.heal()
    if not fault_proxy.stats["resets"] and fault_proxy.stats["connections"] == connections:
        pytest.skip(f"not run: {operation} did not go through the address the backend was "
                    f"given (its driver or the store redirected it), so the fault never "
                    f"reached it")
    if operation == "store_result":
        assert read(backend, target)["result"] == {"v": "after"}, (
            "store_result returned, but the value is not stored")
    else:
        assert outcome["status"] == states.SUCCESS and outcome["result"] == {"v": "before"}, (
            f"get_task_meta after the fault read {outcome['status']} {outcome['result']!r}")


# ------------------------------------------------------------------- RY5
@pytest.fixture(scope="session")
def private_servers(conformance_state):
    """Servers started for restart tests alone, one per store, on demand."""
    started: dict = {}

    def get(store_server):
        from celery_conformance.containers import StoreUnavailable, providers

        name = store_server.name
        if name in started:
            return started[name]
        if store_server.route == "embedded":
            pytest.skip(f"not run: {name} is embedded: there is no server to restart")
        if store_server.route != "local":
            pytest.skip(f"not run: the {name} server here is reached via "
                        f"{store_server.route}, not started by the harness, so it cannot "
                        f"restart one like it")
        provider = providers()[name]
        try:
            started[name] = provider.from_local(conformance_state.broker.workdir)
        except StoreUnavailable as exc:
            pytest.skip(f"not run: no private {name} server to restart: {exc}")
        return started[name]

    yield get
    for server in started.values():
        server.stop()


@pytest.mark.clause("RY5")
def test_next_operation_after_a_server_restart_succeeds(make_backend, store_server,
                                                        private_servers):
    """After the server restarts (the same server, on the same port), the
    next store_result and get_task_meta succeed without any retry: pooled
    connections that died with the old process are discarded, not reused;
    and what was stored before it reads back. Run on servers that keep their
    data across a restart (a memory-only server is a new, empty store after
    one)."""
    server = private_servers(store_server)
    if not server.restart_keeps_data:
        pytest.skip(f"not run: this {server.name} server keeps its data in memory only, so "
                    f"after a restart it is not the same store (restart_keeps_data=False)")
    namespace = server.create_namespace("ry5")
    try:
        backend = make_backend(namespace=namespace, result_backend_always_retry=False)
        before = _new_id()
        backend.store_result(before, {"v": "before"}, states.SUCCESS)
        assert read(backend, before)["result"] == {"v": "before"}
        server.restart()
        after = _new_id()
        try:
            backend.store_result(after, {"v": "after"}, states.SUCCESS)
            meta = read(backend, after)
        except Exception as exc:
            pytest.fail(f"the first operation after a server restart raised "
                        f"{type(exc).__name__}: {exc} (a dead pooled connection was reused)")
        assert meta["result"] == {"v": "after"}, f"after the restart the write reads {meta}"
        assert read(backend, before)["result"] == {"v": "before"}, (
            "a result stored before the restart is gone, although the server keeps its "
            "data across a restart")
    finally:
        try:
            server.drop_namespace(namespace)
        except Exception:
            pass


# ------------------------------------------------------ RY4: permanent errors
_CREDENTIALS = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:@/\s]*)(?::[^@/\s]*)?@")
WRONG_PASSWORD = "wrong-password-ry4"


def _with_wrong_password(value):
    """``value`` (a URL, or settings holding URLs) with every URL's password
    replaced by a wrong one (added where a user name has none)."""
    if isinstance(value, str):
        return _CREDENTIALS.sub(lambda m: f"{m['scheme']}{m['user']}:{WRONG_PASSWORD}@", value)
    if isinstance(value, dict):
        return {k: _with_wrong_password(v) for k, v in value.items()}
    return value


@pytest.mark.clause("RY4")
def test_bad_credentials_are_raised_at_once_not_retried(make_backend, conformance_target,
                                                        monkeypatch):
    """A wrong password is a permanent error: with result_backend_always_retry
    the backend raises it after one attempt (at construction or at the
    first store_result), with no retry sleep, and not as a retry-exhausted
    BackendStoreError. (Retry sleeps are recorded, not slept, here.)"""
    import dataclasses

    from celery.exceptions import BackendStoreError

    namespace = make_backend.namespace
    wrong = dataclasses.replace(namespace, url=_with_wrong_password(namespace.url),
                                settings=_with_wrong_password(namespace.settings))
    if (wrong.url, wrong.settings) == (namespace.url, namespace.settings):
        pytest.skip("not run: the backend is given no credentials (no user in its URL or "
                    "settings), so none can be wrong")
    sleeps: list = []
    # every retry sleep of the class, construction included, is recorded
    monkeypatch.setattr(conformance_target.spec.load_class(), "_sleep",
                        lambda self, amount: sleeps.append(amount), raising=False)
    error = None
    try:
        backend = make_backend(namespace=wrong, **{**RETRYING, "result_backend_max_retries": 3})
        backend.store_result(_new_id(), {"v": 1}, states.SUCCESS)
    except Exception as exc:
        error = exc
    if error is None:
        pytest.skip("not run: the server accepted a wrong password (it authenticates no one "
                    "here, e.g. trust authentication)")
    assert not isinstance(error, BackendStoreError), (
        f"a wrong password was retried until max_retries ({len(sleeps)} retry sleeps): {error}")
    assert not sleeps, (f"a wrong password was retried {len(sleeps)} times before "
                        f"{type(error).__name__}: {error} was raised")
    assert WRONG_PASSWORD not in str(error), "the error shows the password"
