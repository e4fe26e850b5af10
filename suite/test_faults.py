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
from .plumbing import (CallInThread, exception_chain, exception_text, fault_proxy_before,
                       held_by_another_thread)
from .strategies import make_request

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
    with fault_proxy_before(store_server) as proxy:
        yield proxy


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
@pytest.mark.parametrize("stop", ["restart", "kill-9"])
def test_next_operation_after_a_server_restart_succeeds(make_backend, store_server,
                                                        private_servers, stop):
    """After the server restarts (the same server, on the same port), or
    crashes (kill -9) and comes back, the next store_result and
    get_task_meta succeed without any retry: pooled connections that died
    with the old process are discarded, not reused; and what was stored
    before it reads back (before a crash: what the server had flushed). Run
    on servers that keep their data across a restart (a memory-only server is
    a new, empty store after one)."""
    import time

    server = private_servers(store_server)
    if not server.restart_keeps_data:
        pytest.skip(f"not run: this {server.name} server keeps its data in memory only, so "
                    f"after a restart it is not the same store (restart_keeps_data=False)")
    if stop == "kill-9" and server.kill_keeps_data_older_than is None:
        pytest.skip(f"not run: this {server.name} server keeps nothing across a kill -9 "
                    f"(it saves its data only when it shuts down)")
    namespace = server.create_namespace("ry5")
    try:
        backend = make_backend(namespace=namespace, result_backend_always_retry=False)
        before = _new_id()
        backend.store_result(before, {"v": "before"}, states.SUCCESS)
        assert read(backend, before)["result"] == {"v": "before"}
        if stop == "kill-9":
            # what the server flushes lazily is on disk by then
            time.sleep(server.kill_keeps_data_older_than + 0.5)
        server.restart(hard=stop == "kill-9")
        after = _new_id()
        try:
            backend.store_result(after, {"v": "after"}, states.SUCCESS)
            meta = read(backend, after)
        except Exception as exc:
            pytest.fail(f"the first operation after a server {stop} raised "
                        f"{type(exc).__name__}: {exc} (a dead pooled connection was reused)")
        assert meta["result"] == {"v": "after"}, f"after the restart the write reads {meta}"
        assert read(backend, before)["result"] == {"v": "before"}, (
            f"a result stored before the {stop} is gone, although the server keeps its "
            f"data across one")
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
    # raised unchanged (RY3): the store's refusal, or an error naming it
    named = [f"{type(e).__name__}: {e}" for e in exception_chain(error)]
    assert any(_AUTHENTICATION.search(text) for text in named), (
        f"a wrong password raised an error that names no authentication failure (nor does "
        f"any error it chains): {type(error).__name__}: {error}")


#: words a store's refusal of a login uses (PostgreSQL, MariaDB, HTTP stores)
_AUTHENTICATION = re.compile(
    r"auth|password|access denied|credential|log ?in|unauthori[sz]ed|forbidden|"
    r"permission|\b40[13]\b", re.IGNORECASE)


#: inputs that stores commonly refuse on a healthy server: each writes one
#: new record whose id starts with ``marker`` (what the attempt counter
#: looks for in the traffic)
REFUSED_INPUTS = {
    # longer than ArangoDB keys (254 bytes), Cosmos DB ids (255) and the
    # task_id column of Celery's table (155)
    "300-character id": lambda backend, marker: backend.store_result(
        marker + "-" + "i" * 263, {"v": 1}, states.SUCCESS),
    # longer than any name column, with result_extended
    "2000-character task name": lambda backend, marker: backend.store_result(
        marker, {"v": 1}, states.SUCCESS, request=make_request(id=marker, task="n" * 2000)),
    # over the item or document limit of several stores (Cosmos DB: 2 MB)
    "3 MB result": lambda backend, marker: backend.store_result(
        marker, "r" * 3_000_000, states.SUCCESS),
}


class AttemptCounter:
    """Counts the requests that carry ``marker`` through a fault proxy."""

    def __init__(self, proxy) -> None:
        self.marker = b""
        self.seen = 0
        proxy.observer = self.observe

    def observe(self, data: bytes) -> None:
        if self.marker:
            self.seen += data.count(self.marker)

    def watch(self, marker: str) -> None:
        self.marker, self.seen = marker.encode(), 0


@pytest.mark.clause("RY4")
@pytest.mark.parametrize("refused", sorted(REFUSED_INPUTS))
def test_an_input_the_store_refuses_is_raised_after_one_attempt(
        make_backend, store_server, refused):
    """A write the store refuses on a healthy server (an id, a field or a
    result beyond its limits) is a permanent error: with
    result_backend_always_retry it is raised after one attempt, with no
    retry sleep, and not as a retry-exhausted BackendStoreError. On a
    networked store the requests carrying the write are counted: no more
    than a successful write of the same shape sends. A backend that accepts
    the input has nothing to classify: not run."""
    from celery.exceptions import BackendStoreError

    from celery_conformance.containers.faults import FaultProxy

    proxy = counter = None
    namespace = make_backend.namespace
    address = store_server.network_address()
    if address is not None and address[0] in ("127.0.0.1", "localhost"):
        proxy = FaultProxy(address[1])
        counter = AttemptCounter(proxy)
        namespace = store_server.through(namespace, proxy.port)
    try:
        backend = make_backend(namespace=namespace, result_extended=True,
                               **{**RETRYING, "result_backend_max_retries": 3})
        backend.store_result(_new_id(), {"v": "warm"}, states.SUCCESS)   # connections open
        sleeps = _sleeping_recorder(backend)
        marker = _new_id()
        if counter is not None:
            counter.watch(marker)
        try:
            REFUSED_INPUTS[refused](backend, marker)
        except Exception as exc:
            error = exc
        else:
            error = None
        attempts = counter.seen if counter is not None else None
        if error is None:
            pytest.skip(f"not run: the backend accepted a {refused} (no permanent error to "
                        f"classify)")
        if counter is not None and attempts:
            # a successful write of the same shape, for the number of requests
            # one attempt may send
            accepted = _new_id()
            counter.watch(accepted)
            backend.store_result(accepted, {"v": 1}, states.SUCCESS,
                                 request=make_request(id=accepted, task="ok"))
            one_attempt = counter.seen
        else:
            one_attempt = None
    finally:
        if proxy is not None:
            proxy.close()
    # (a BackendStoreError alone is no sign of retries: Celery raises it for
    # values over a store's limit too)
    assert not sleeps, (
        f"a {refused} was retried {len(sleeps)} times before {type(error).__name__}: "
        f"{str(error)[:300]} was raised"
        + (f" (caused by {type(error.__context__).__name__}: "
           f"{str(error.__context__)[:300]})"
           if isinstance(error, BackendStoreError) and error.__context__ else ""))
    if one_attempt:
        assert attempts <= one_attempt, (
            f"a {refused} went to the server {attempts} times before "
            f"{type(error).__name__}: {str(error)[:300]} was raised (a successful write "
            f"sends {one_attempt}): the permanent error was retried")


# ------------------------------------------------------------------- RY7
#: seconds of the fault schedule in a normal run (--soak sets a longer one)
STORM_S = 3.0
WRITER_THREADS = 3
WRITER_PROCESSES = 2


class FaultSchedule:
    """A seeded schedule of real faults on a proxy: every 0.1-0.4 s, one of
    a reset of every open connection, a response dropped after its request
    reached the server, new connections refused for up to 0.3 s, or the
    server stalled for up to 0.3 s (connections open, nothing answered);
    with ``server``, also a restart of that server (same port, same data)."""

    KINDS = ("reset", "drop-response", "refuse", "stall")

    def __init__(self, proxy, seed: int, server=None) -> None:
        import random

        self.proxy, self.server, self.random = proxy, server, random.Random(seed)
        self.kinds = self.KINDS + (("restart",) if server is not None else ())
        self.counts = dict.fromkeys(self.kinds, 0)

    def run(self, stop) -> None:
        while not stop.wait(self.random.uniform(0.1, 0.4)):
            kind = self.random.choice(self.kinds)
            self.counts[kind] += 1
            if kind == "reset":
                self.proxy.reset()
            elif kind == "drop-response":
                self.proxy.drop_responses(1)
            elif kind == "restart":
                self.server.restart()
            else:
                self.proxy.refuse() if kind == "refuse" else self.proxy.stall()
                if stop.wait(self.random.uniform(0.05, 0.3)):
                    break
                self.proxy.heal()
        self.proxy.heal()


def _write_until(backend, stop, label: str) -> dict:
    """store_result on fresh ids (some written STARTED first, then SUCCESS)
    until ``stop``: {"acked": {id: value}, "failed": {id: value}, "errors": {type: n}}."""
    acked, failed, errors, samples = {}, {}, {}, {}
    n = 0
    while not stop.is_set():
        task_id = f"ry7-{label}-{n}-{uuid.uuid4().hex[:8]}"
        value = {"writer": label, "n": n}
        try:
            if n % 3 == 0:
                backend.store_result(task_id, {"progress": n}, states.STARTED)
            backend.store_result(task_id, value, states.SUCCESS)
            acked[task_id] = value
        except Exception as exc:
            failed[task_id] = value
            name = type(exc).__name__
            errors[name] = errors.get(name, 0) + 1
            samples.setdefault(name, str(exc).splitlines()[0][:160] if str(exc) else name)
        n += 1
    return {"acked": acked, "failed": failed, "errors": errors, "samples": samples}


def _process_writer(backend, stop, label, results) -> None:
    from .plumbing import clone_backend, prefork_child_init

    try:
        prefork_child_init(backend.app)
        own = clone_backend(backend)
        sleeps = _sleeping_recorder(own)
        outcome = _write_until(own, stop, label)
        outcome["retries"] = len(sleeps)
        results.put(outcome)
    except BaseException as exc:  # reported by the parent
        results.put({"crash": f"{type(exc).__name__}: {exc}"})


class LockSchedule:
    """The embedded store's schedule: every 0.1-0.4 s another connection
    holds the write lock for 0.05-0.3 s (seeded)."""

    KINDS = ("write-lock",)

    def __init__(self, store, namespace, seed: int) -> None:
        import random

        self.store, self.namespace, self.random = store, namespace, random.Random(seed)
        self.counts = {"write-lock": 0}

    def run(self, stop) -> None:
        while not stop.wait(self.random.uniform(0.1, 0.4)):
            self.counts["write-lock"] += 1
            with self.store.write_lock(self.namespace):
                if stop.wait(self.random.uniform(0.05, 0.3)):
                    break

    def heal(self) -> None:
        pass

    @property
    def stats(self) -> dict:
        return {}


def _no_write_lock(store_server) -> str:
    networked = store_server.network_address() is not None
    return (f"not run: {store_server.name} has no write lock the harness can hold"
            + (" (its real faults are network ones, which the proxy tests inject)"
               if networked else ""))


def _fault_seed() -> int:
    import os
    import random

    return int(os.environ.get("CELERY_CONFORMANCE_FAULT_SEED") or random.randrange(2 ** 32))


#: retry settings of the writers under a fault schedule
STORM_RETRYING = {**RETRYING, "result_backend_max_retries": 10,
                  "result_backend_base_sleep_between_retries_ms": 20,
                  "result_backend_max_sleep_between_retries_ms": 200}


@pytest.mark.clause("RY7")
@pytest.mark.requires("concurrent_processes")
def test_no_acknowledged_write_is_lost_under_a_fault_schedule(
        proxied_backend, fault_proxy, conformance_state, request):
    """While a seeded schedule of real faults (resets, dropped responses,
    refused connections, stalls) runs, writer threads and forked writer processes
    store results with result_backend_always_retry. Afterwards every
    store_result that returned reads back with its value, one that raised
    left the id either untouched (PENDING) or fully written, and records
    written before the schedule are unchanged. The seed is printed, and
    CELERY_CONFORMANCE_FAULT_SEED replays it."""
    seed = _fault_seed()
    backend = proxied_backend(**STORM_RETRYING)
    _storm(backend, FaultSchedule(fault_proxy, seed), seed, conformance_state, request,
           proxy=fault_proxy)


@pytest.mark.clause("RY7")
@pytest.mark.requires("concurrent_processes")
def test_no_acknowledged_write_is_lost_across_server_restarts(
        make_backend, store_server, private_servers, conformance_state, request):
    """RY7 with restarts in the schedule: a private server of the store (one
    that keeps its data across a restart) restarts on the same port while the
    proxy's resets, dropped responses, refusals and stalls go on; every
    acknowledged write reads back afterwards."""
    from celery_conformance.containers.faults import FaultProxy

    server = private_servers(store_server)
    if not server.restart_keeps_data:
        pytest.skip(f"not run: this {server.name} server keeps its data in memory only, so "
                    f"after a restart it is not the same store (restart_keeps_data=False)")
    seed = _fault_seed()
    namespace = server.create_namespace("ry7")
    proxy = FaultProxy(server.network_address()[1])
    try:
        backend = make_backend(namespace=server.through(namespace, proxy.port),
                               **STORM_RETRYING)
        _storm(backend, FaultSchedule(proxy, seed, server=server), seed, conformance_state,
               request, proxy=proxy)
    finally:
        proxy.close()
        server.drop_namespace(namespace)


@pytest.mark.clause("RY7")
@pytest.mark.requires("concurrent_processes")
def test_no_acknowledged_write_is_lost_under_lock_contention(
        make_backend, store_server, conformance_state, request):
    """RY7 on an embedded store, whose real fault is contention: while another
    connection takes and holds the write lock on a seeded schedule, every
    acknowledged write of the writer threads and processes reads back, and
    nothing else changes."""
    if "write-lock" not in store_server.supported_faults:
        pytest.skip(_no_write_lock(store_server))
    seed = _fault_seed()
    backend = make_backend(**STORM_RETRYING)
    _storm(backend, LockSchedule(store_server, make_backend.namespace, seed), seed,
           conformance_state, request)


#: every write sends at least its task id to the server
MIN_REQUEST_BYTES = 36


def _storm(backend, schedule, seed, conformance_state, request, proxy=None) -> None:
    """Writers (threads and forked processes) store results while
    ``schedule`` injects faults; then check RY7's guarantees and report."""
    import multiprocessing
    import threading
    import time

    seconds = conformance_state.settings.soak_seconds or STORM_S
    canaries = {_new_id(): {"canary": n} for n in range(3)}
    for task_id, value in canaries.items():
        backend.store_result(task_id, value, states.SUCCESS)
    sleeps = _sleeping_recorder(backend)
    stop = threading.Event()
    outcomes: list = []
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    process_stop = context.Event()
    processes = [context.Process(target=_process_writer,
                                 args=(backend, process_stop, f"p{i}", results), daemon=True)
                 for i in range(WRITER_PROCESSES)]
    threads = [threading.Thread(target=lambda i=i: outcomes.append(
        _write_until(backend, stop, f"t{i}")), daemon=True) for i in range(WRITER_THREADS)]
    for process in processes:
        process.start()
    schedule_errors: list = []

    def run_schedule():
        try:
            schedule.run(stop)
        except BaseException as exc:     # reported below: the store may be down
            schedule_errors.append(f"{type(exc).__name__}: {exc}")

    faults = threading.Thread(target=run_schedule, daemon=True)
    for thread in threads + [faults]:
        thread.start()
    progress = _progress_reporter(request, conformance_state.settings.soak_seconds)
    sent_before = proxy.stats["bytes_up"] if proxy is not None else 0
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        time.sleep(min(1.0, seconds))
        progress(time.monotonic() - started, len(sleeps), schedule.counts)
    stop.set()
    process_stop.set()
    for thread in threads + [faults]:
        thread.join(120)
    for _ in processes:
        try:
            outcomes.append(results.get(timeout=120))
        except Exception:
            outcomes.append({"crash": "a writer process reported nothing within 120 s"})
    for process in processes:
        process.join(10)
    if proxy is not None:
        proxy.heal()
    elapsed = time.monotonic() - started
    assert not schedule_errors, (f"the fault schedule itself failed (seed {seed}), the store "
                                 f"may not be healthy: {schedule_errors}")
    crashes = [o["crash"] for o in outcomes if "crash" in o]
    assert not crashes, f"writer processes crashed (seed {seed}): {crashes}"
    acked = {k: v for o in outcomes for k, v in o["acked"].items()}
    failed = {k: v for o in outcomes for k, v in o["failed"].items()}
    errors: dict = {}
    for o in outcomes:
        for name, count in o["errors"].items():
            errors[name] = errors.get(name, 0) + count
    retries = len(sleeps) + sum(o.get("retries", 0) for o in outcomes)
    samples = {k: v for o in outcomes for k, v in o.get("samples", {}).items()}
    lost = {}
    for task_id, value in acked.items():
        meta = read(backend, task_id)
        if (meta["status"], meta["result"]) != (states.SUCCESS, value):
            lost[task_id] = meta
    torn = {}
    for task_id, value in failed.items():
        meta = read(backend, task_id)
        if meta["status"] not in (states.PENDING, states.STARTED, states.SUCCESS) or (
                meta["status"] == states.SUCCESS and meta["result"] != value):
            torn[task_id] = meta
    changed = {k: m for k, m in ((k, read(backend, k)) for k in canaries)
               if m["result"] != canaries[k]}
    summary = (f"RY7 seed {seed}: {len(acked) + len(failed)} stores in {elapsed:.1f}s "
               f"({(len(acked) + len(failed)) / elapsed:.0f}/s), {retries} retries, "
               f"{len(failed)} errors {errors or ''}, {len(lost)} acknowledged writes lost; "
               f"errors seen: {samples or 'none'}; faults {schedule.counts}"
               + (f", proxy {proxy.stats}" if proxy is not None else ""))
    progress.finish(summary)
    if proxy is not None and acked and \
            proxy.stats["bytes_up"] - sent_before < len(acked) * MIN_REQUEST_BYTES:
        pytest.skip(f"not run: {len(acked)} writes were acknowledged, but only "
                    f"{proxy.stats['bytes_up'] - sent_before} bytes went through the fault "
                    f"proxy: the backend's driver talks to another address (one the server "
                    f"advertises), so the faults never reached it. {summary}")
    assert acked, f"no store_result succeeded at all under the schedule. {summary}"
    assert not lost, (f"{len(lost)} acknowledged writes do not read back (first: "
                      f"{next(iter(lost.items()))}). {summary}")
    assert not torn, f"failed writes left records neither old nor new: {torn}. {summary}"
    assert not changed, f"records written before the schedule changed: {changed}. {summary}"


def _progress_reporter(request, soak_seconds):
    """A progress line every few seconds during a soak (none otherwise)."""
    import contextlib

    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    last = {"at": 0.0}

    def say(line: str) -> None:
        if not soak_seconds or reporter is None:
            return
        with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
            reporter.write_line(f"  soak {request.node.callspec.id}: {line}")

    def progress(elapsed, retries, counts):
        if elapsed - last["at"] >= 5:
            last["at"] = elapsed
            say(f"{elapsed:.0f}/{soak_seconds or 0:.0f}s, {retries} retries so far, "
                f"faults {counts}")

    def finish(summary):
        say(summary)

    progress.finish = finish
    return progress


# ------------------------------------------------- RY7: a dropped response
@pytest.mark.clause("RY7")
@pytest.mark.parametrize("write", ["SUCCESS", "group"])
def test_a_write_retried_after_its_response_was_lost_keeps_its_outcome(
        proxied_backend, fault_proxy, capabilities, write):
    """The server applied a write, but its response never reached the client
    (the connection reset instead): the retry must not change the outcome.
    A retried SUCCESS stays SUCCESS with its value, and a retried group save
    is not an error and restores the group."""
    from celery.result import AsyncResult, GroupResult

    if write == "group" and not capabilities.stores_groups:
        pytest.skip("not run: backend does not declare stores_groups (it keeps no groups)")
    backend = proxied_backend(**RETRYING)
    warm = _new_id()
    backend.store_result(warm, 1, states.SUCCESS)    # connections are open
    read(backend, warm)
    some_id = _new_id()
    group = GroupResult(some_id, [AsyncResult(warm, app=backend.app)], app=backend.app)
    fault_proxy.drop_responses(1)
    try:
        if write == "SUCCESS":
            backend.store_result(some_id, {"v": "done"}, states.SUCCESS)
        else:
            backend.save_group(some_id, group)
    except Exception as exc:
        pytest.fail(f"a {write} write whose response was lost raised {type(exc).__name__}: "
                    f"{exc} under result_backend_always_retry (proxy {fault_proxy.stats})")
    finally:
        fault_proxy.heal()
    if not fault_proxy.stats["dropped_responses"]:
        pytest.skip("not run: the write sent nothing the proxy could answer for (its "
                    "traffic did not go through the address the backend was given)")
    if write == "SUCCESS":
        meta = read(backend, some_id)
        assert (meta["status"], meta["result"]) == (states.SUCCESS, {"v": "done"}), (
            f"after a retried SUCCESS write the id reads {meta['status']} {meta['result']!r}")
    else:
        restored = backend.restore_group(some_id, cache=False)
        assert restored is not None and [r.id for r in restored.results] == [warm], (
            f"after a retried group save the group restores as {restored!r}")


# ------------------------------------------------- XP2/XP7: cleanup under faults
CLEANUP_FAULTS = {
    # the server ran a statement, its answer was lost
    "dropped-response": lambda proxy: proxy.drop_responses(2),
    # a request was cut while being sent: the server never ran it
    "cut-request": lambda proxy: proxy.cut_after(64, "up"),
}


@pytest.mark.clause("XP2", "XP7")
@pytest.mark.requires("cleanup")
@pytest.mark.parametrize("fault", sorted(CLEANUP_FAULTS))
def test_cleanup_interrupted_by_a_fault_keeps_young_results_and_a_rerun_completes(
        proxied_backend, fault_proxy, capabilities, fault):
    """A cleanup() that a real fault interrupts (a lost response, a request
    cut in flight) may raise, but deletes no result younger than
    result_expires (XP2); run again once the server answers, it removes the
    expired ones (XP7). Checked at a controlled client clock."""
    import datetime as dt

    from .plumbing import clock_at, real_now

    if not capabilities.client_clock_expiry:
        pytest.skip("not run: the store measures expiry with its own clock (expiry_clock="
                    "'server' or server_clock), which this clock-travel test cannot control")
    expires = 60
    backend = proxied_backend(result_expires=expires)
    now = real_now()
    old = {_new_id(): {"old": n} for n in range(5)}
    young = {_new_id(): {"young": n} for n in range(5)}
    with clock_at(now - dt.timedelta(seconds=expires + 30)):
        for task_id, value in old.items():
            backend.store_result(task_id, value, states.SUCCESS)
    with clock_at(now - dt.timedelta(seconds=expires - 30)):
        for task_id, value in young.items():
            backend.store_result(task_id, value, states.SUCCESS)
    with clock_at(now):
        CLEANUP_FAULTS[fault](fault_proxy)
        try:
            backend.cleanup()
        except Exception:
            pass   # interrupted: allowed
        fault_proxy.heal()
        gone = [i for i, v in young.items() if read(backend, i)["result"] != v]
        assert not gone, (f"a cleanup() interrupted by a {fault} deleted {len(gone)} of "
                          f"{len(young)} results younger than result_expires={expires}s")
        backend.cleanup()
        kept = [i for i in old if read(backend, i)["status"] != states.PENDING]
        assert not kept, (f"cleanup() run again after a {fault} left {len(kept)} of "
                          f"{len(old)} expired results")
        assert all(read(backend, i)["result"] == v for i, v in young.items())


# --------------------------------------------- RY4 on an embedded store: a lock
@pytest.mark.clause("RY4")
@pytest.mark.parametrize("operation", sorted(OPERATIONS))
def test_a_write_lock_held_by_another_connection_is_waited_out(make_backend, store_server,
                                                               operation):
    """On an embedded store the real transient fault is contention: while
    another connection holds the write lock for 0.6 s, an operation waits or
    retries, and succeeds once the lock is released."""
    if "write-lock" not in store_server.supported_faults:
        pytest.skip(_no_write_lock(store_server))
    backend = make_backend(**RETRYING)
    task_id = _new_id()
    backend.store_result(task_id, {"v": "before"}, states.SUCCESS)
    target = _new_id() if operation == "store_result" else task_id
    with held_by_another_thread(lambda: store_server.write_lock(make_backend.namespace),
                                "the write lock", release_after=FAULT_S):
        try:
            outcome = OPERATIONS[operation](backend, target)
        except Exception as exc:
            pytest.fail(f"{operation} raised {type(exc).__name__}: {exc} while another "
                        f"connection held the write lock for {FAULT_S}s")
    if operation == "store_result":
        assert read(backend, target)["result"] == {"v": "after"}
    else:
        assert outcome["result"] == {"v": "before"}


# ------------------------------------- RY4 on a server: a lock wait timeout
#: the store's limit on a wait for another session's lock, and how long the
#: harness holds the lock (seconds): the write meets the store's lock timeout
LOCK_WAIT_LIMIT_S = 1
LOCK_HELD_S = 2.5
#: writes that wait for a record's lock (plain reads do not, on MVCC stores)
LOCKED_WRITES = {
    "store_result": (lambda backend, task_id: backend.store_result(
        task_id, {"v": "after"}, states.SUCCESS), (states.SUCCESS, {"v": "after"})),
    "forget": (lambda backend, task_id: backend.forget(task_id), (states.PENDING, None)),
}


@pytest.mark.clause("RY4")
@pytest.mark.parametrize("operation", sorted(LOCKED_WRITES))
def test_a_lock_wait_timeout_of_the_store_is_retried(make_backend, store_server, operation):
    """Lock contention is transient: while another session holds a record's
    lock for 2.5 s, past the store's lock wait limit of 1 s, a write of that
    record meets the store's lock timeout, is retried (always_retry), and
    succeeds once the lock is released."""
    import time

    from .backdoors import implements

    namespace = store_server.limiting_lock_waits(make_backend.namespace, LOCK_WAIT_LIMIT_S)
    if namespace is None:
        pytest.skip(f"not run: {store_server.name} has no limit on lock waits that the "
                    f"harness can set (StoreServer.limiting_lock_waits)")
    backend = make_backend(namespace=namespace, **RETRYING)
    task_id = _new_id()
    backend.store_result(task_id, {"v": "before"}, states.STARTED)
    door = make_backend.backdoor(backend)
    if not implements(door, "holding_record_lock"):
        pytest.skip(f"not run: the backend's backdoor ({type(door).__name__}) cannot hold a "
                    f"record's lock (Backdoor.holding_record_lock)")
    write, expected = LOCKED_WRITES[operation]
    with held_by_another_thread(lambda: door.holding_record_lock(task_id),
                                "the record's lock", release_after=LOCK_HELD_S):
        started = time.monotonic()
        try:
            write(backend, task_id)
        except Exception as exc:
            pytest.fail(f"{operation} raised {type(exc).__name__}: {exc} while another session "
                        f"held the record's lock for {LOCK_HELD_S} s, past the store's lock "
                        f"wait limit of {LOCK_WAIT_LIMIT_S} s: a lock timeout is transient "
                        f"and retried")
    waited = time.monotonic() - started
    assert waited >= LOCK_HELD_S - 0.2, (
        f"{operation} returned after {waited:.2f} s, before the lock was released: it never "
        f"waited for the lock, so the test proved nothing")
    meta = read(backend, task_id)
    assert (meta["status"], meta["result"]) == expected


# ------------------------------------------------------------------- RY6
#: how long RY6 watches a backend that documents no bound (seconds): it fails
#: either way; the wait only tells whether the operation blocks
UNDOCUMENTED_WAIT_S = 2.0
#: what a bound may be overshot by: thread scheduling, the proxy's own pace
BOUND_SLACK_S = 2.0


def _merged(settings: dict, extra: dict) -> dict:
    """``settings`` updated with ``extra``; dict settings are merged."""
    out = dict(settings)
    for name, value in extra.items():
        out[name] = {**out.get(name, {}), **value} if isinstance(value, dict) else value
    return out


#: when the server stalls, and the retry settings: a bound holds for each.
#: "before": before the operation; "mid-request": once the request carrying
#: the task id has reached the server (its answer never comes back);
#: "after-answer": once the next request after that one has (a COMMIT, say)
STALL_SCENARIOS = {
    "before/one-retry": ("before", {**RETRYING, "result_backend_max_retries": 1}),
    "before/no-retry": ("before", {"result_backend_always_retry": False}),
    "mid-request/one-retry": ("mid-request", {**RETRYING, "result_backend_max_retries": 1}),
    "after-answer/one-retry": ("after-answer", {**RETRYING, "result_backend_max_retries": 1}),
    # a quiet spell first: whatever times the backend's waits has been idle
    "idle/before/one-retry": ("idle-before", {**RETRYING, "result_backend_max_retries": 1}),
    # another backend of the process keeps working against the healthy server
    "busy-neighbour/mid-request/one-retry": ("mid-request",
                                             {**RETRYING, "result_backend_max_retries": 1}),
}
#: every operation meets the plain scenarios, one of them the others
STALL_CASES = [(operation, scenario) for operation in sorted(OPERATIONS)
               for scenario in sorted(STALL_SCENARIOS)
               if scenario.count("/") == 1 or operation == "get_task_meta"]
#: the quiet spell before an "idle/" stall (seconds)
IDLE_BEFORE_STALL_S = 3.0


@pytest.mark.clause("RY6")
@pytest.mark.parametrize("operation,scenario", STALL_CASES)
def test_no_operation_blocks_past_its_bound_on_a_stalled_server(
        make_backend, store_server, fault_proxy, capabilities, operation, scenario):
    """Against a server that accepts connections and never answers (a hung
    server or a black hole: its kernel still acknowledges every packet), an
    operation with finite retries returns or raises within the bound the
    backend documents (operation_bound(), or the operation_bound
    capability), with the backend's own timeout settings shortened where it
    declares how (quick_timeouts). A backend that documents no bound fails.
    The test never waits longer than the bound plus 2 s. Checked with one
    retry and with retries off, and with the server stalling before the
    operation, after its request arrived, or at the request after that one
    (a COMMIT), after a quiet spell, and while another backend of the
    process keeps working against the healthy server."""
    import threading
    import time

    namespace = store_server.through(make_backend.namespace, fault_proxy.port)
    stall_at, retry_settings = STALL_SCENARIOS[scenario]
    settings = _merged({**namespace.settings, **retry_settings}, capabilities.quick_timeouts)
    backend = make_backend(namespace=namespace, **settings)
    task_id = _new_id()
    backend.store_result(task_id, {"v": "before"}, states.SUCCESS)    # connections open
    read(backend, task_id)
    documented = capabilities.operation_bound or getattr(backend, "operation_bound", None)
    bound = float(documented(backend) if capabilities.operation_bound else documented()) \
        if documented else None
    if bound is None and scenario != "before/one-retry":
        pytest.skip("not run: the backend documents no bound at all; the before/one-retry "
                    "variant of this test reports that")
    target = _new_id() if operation == "store_result" else task_id
    if stall_at == "idle-before":
        time.sleep(IDLE_BEFORE_STALL_S)
    if stall_at in ("before", "idle-before"):
        fault_proxy.stall()
    carried_target: list = []
    if stall_at not in ("before", "idle-before"):
        def stall_once_the_request_passes(chunk: bytes) -> None:
            if carried_target and stall_at == "after-answer":
                fault_proxy.stall()      # the request after the one with the id
            if target.encode() in chunk:
                carried_target.append(chunk)
                if stall_at == "mid-request":
                    fault_proxy.stall()
        fault_proxy.observer = stall_once_the_request_passes
    neighbour_stop = threading.Event()
    if scenario.startswith("busy-neighbour/"):
        neighbour = make_backend(**retry_settings)     # not behind the proxy

        def keep_working():
            while not neighbour_stop.is_set():
                some_id = _new_id()
                try:
                    neighbour.store_result(some_id, {"v": "busy"}, states.SUCCESS)
                    read(neighbour, some_id)
                except Exception:       # its work is only the backdrop here
                    neighbour_stop.wait(0.1)

        threading.Thread(target=keep_working, daemon=True).start()
    call = CallInThread(lambda: OPERATIONS[operation](backend, target), name=operation)
    blocked = not call.ended_within(
        (bound if bound is not None else UNDOCUMENTED_WAIT_S) + BOUND_SLACK_S)
    neighbour_stop.set()
    where = call.where_blocked()
    fault_proxy.close()          # frees a blocked call: its connections are reset
    call.ended_within(5)
    if not carried_target and stall_at not in ("before", "idle-before"):
        pytest.skip(f"not run: no request of {operation} carried the task id as sent, so "
                    f"the harness could not tell when to stall the server")
    # an after-answer stall that never armed (no request followed the one
    # with the id) leaves an operation against a healthy server: judged alike
    if bound is None:
        pytest.fail(f"the backend documents no bound for one operation (no "
                    f"operation_bound() and no operation_bound capability); against a "
                    f"stalled server {operation} "
                    + (f"was still blocked after {UNDOCUMENTED_WAIT_S + BOUND_SLACK_S:.0f}s"
                       if blocked else f"{call.outcome} after {call.seconds:.1f}s"))
    assert not blocked, (f"{operation} was still blocked {bound + BOUND_SLACK_S:.1f}s into a "
                         f"stall, past the documented bound of {bound:.1f}s, in\n{where}")


#: the most requests of a fresh backend's first use that are each stalled in
#: turn (a first use that makes more is stalled at the first ones only), and
#: how many of those stalls run at once (each on a proxy and namespace of its own)
FIRST_USE_STALLS_MAX = 48
FIRST_USE_STALLS_AT_ONCE = 8


@pytest.mark.clause("RY6", "RY5")
def test_a_stall_at_any_request_of_a_fresh_backends_first_use_is_bounded(
        make_backend, store_server, capabilities):
    """A fresh backend's first use (building it, and its first store_result:
    the connection's handshake and set-up, making its tables or collections,
    committing them, the write) ends within the documented bound for each of
    the two steps, retries off, whichever of its requests the server stalls
    after receiving (it never answers). Each request is stalled in turn, on
    a fresh namespace each time. Once the stall ends, that backend stores and
    reads what a backend never stalled does (RY5: nothing learnt during the
    stall, a size limit or a broken connection, lasts)."""
    import contextlib
    import time

    settings = _merged({"result_backend_always_retry": False}, capabilities.quick_timeouts)

    def fresh_backend(proxy):
        namespace = store_server.through(make_backend.new_namespace(), proxy.port)
        return lambda: make_backend(namespace=namespace, **_merged(namespace.settings, settings))

    def first_use(build) -> None:
        build().store_result(_new_id(), {"v": "first"}, states.SUCCESS)

    with fault_proxy_before(store_server) as proxy:
        requests: list = []
        proxy.observer = requests.append
        first_use(fresh_backend(proxy))
        proxy.observer = None
    probe = make_backend(**settings)
    documented = capabilities.operation_bound or getattr(probe, "operation_bound", None)
    if not documented:
        pytest.skip("not run: the backend documents no bound at all; "
                    "test_no_operation_blocks_past_its_bound_on_a_stalled_server reports that")
    bound = float(documented(probe) if capabilities.operation_bound else documented())
    limit = bound + BOUND_SLACK_S
    stalls = range(1, min(len(requests), FIRST_USE_STALLS_MAX) + 1)
    overruns: dict = {}          # k -> what overran, the first report of it
    lasting: dict = {}           # k -> what failed once the server answered again
    # once the stall ends, the backend stores what one never stalled stores:
    # nothing it learnt during the stall lasts
    after_heal = _values_a_healthy_backend_stores(probe)

    def stall_at(k: int, proxy, build) -> None:
        seen: list = []

        def observe(chunk: bytes) -> None:
            seen.append(chunk)
            if len(seen) == k:
                proxy.stall()

        proxy.observer = observe
        made: dict = {}
        steps = {"building it": lambda: made.setdefault("backend", build()),
                 "its first store_result": lambda: made["backend"].store_result(
                     _new_id(), {"v": "first"}, states.SUCCESS)}
        for step, call in steps.items():
            started = time.monotonic()
            try:
                call()
            except Exception:
                pass                   # raising is fine: blocking is not
            took = time.monotonic() - started
            if took > limit:
                excerpt = seen[k - 1][:40] if len(seen) >= k else b""
                overruns.setdefault(k, f"{step}, stalled after request {k} of "
                                       f"{len(requests)} (starting {excerpt!r}): took "
                                       f"{took:.1f}s")
            if proxy.stalled or "backend" not in made:
                break                  # the stall at request k is judged
        proxy.observer = None          # a first use of fewer requests never stalled:
        proxy.heal()                   # the writes below must not meet the stall
        try:
            backend = made.get("backend") or build()
        except Exception as exc:
            lasting.setdefault(k, f"stalled after request {k}, then healed: building a "
                                  f"backend raised {type(exc).__name__}: {exc}")
            return
        for value in after_heal:
            problem = _stores_and_reads(backend, value)
            if problem is not None:
                lasting.setdefault(k, f"stalled after request {k} of {len(requests)}, then "
                                      f"healed: in {AFTER_FAULT_ATTEMPTS} tries, a "
                                      f"{len(str(value))}-character result that a "
                                      f"backend never stalled stores: {problem}")
                return

    for first in range(0, len(stalls), FIRST_USE_STALLS_AT_ONCE):
        batch = stalls[first:first + FIRST_USE_STALLS_AT_ONCE]
        with contextlib.ExitStack() as proxies:
            runs = []
            for k in batch:
                proxy = proxies.enter_context(fault_proxy_before(store_server))
                build = fresh_backend(proxy)
                runs.append((k, CallInThread(lambda k=k, proxy=proxy, build=build:
                                             stall_at(k, proxy, build), name=f"stall {k}")))
            # the two steps, and the writes once healed (a bound each)
            deadline = time.monotonic() + 4 * limit
            for k, run in runs:
                if not run.ended_within(deadline - time.monotonic()):
                    overruns.setdefault(k, f"stalled after request {k} of {len(requests)}: "
                                           f"still blocked after {4 * limit:.1f}s in\n"
                                           + run.where_blocked())
        # leaving the block closed the proxies: a blocked call is freed
    assert not overruns, (f"a fresh backend's first use overran the documented bound of "
                          f"{bound:.1f}s (+{BOUND_SLACK_S:.0f}s slack) per step:\n"
                          + "\n".join(overruns[k] for k in sorted(overruns)))
    assert not lasting, ("a stall during a fresh backend's first use left lasting damage: "
                         "once the server answered again,\n"
                         + "\n".join(lasting[k] for k in sorted(lasting)))


#: a result of just under 1 MiB, encoded (BI4's guarantee), stored once a fault ends
AFTER_HEAL_MIB = "r" * (1024 * 1024 - 64)


def _values_a_healthy_backend_stores(healthy) -> list:
    """What a backend must store once a fault has ended: a small result, and
    a 1 MiB one where ``healthy``, a backend no fault touched, stores one."""
    return [{"v": "after"}] + (
        [AFTER_HEAL_MIB] if _stores_and_reads(healthy, AFTER_HEAL_MIB, 1) is None else [])


#: how a server is unreachable while a backend is built and first used
UNREACHABLE = {"refusing connections": lambda proxy: proxy.refuse(),
               "stalled": lambda proxy: proxy.stall()}
#: how long a backend that documents no bound is watched while its server
#: refuses connections, before the test gives up on it (seconds)
UNDOCUMENTED_REFUSAL_WAIT_S = 30.0
#: errors that only a mistake in a backend's own code raises, never an
#: unreachable server (whose errors are the store's, or Celery's RY2 ones)
PROGRAMMING_ERRORS = (NameError, AttributeError, TypeError, KeyError, IndexError,
                      AssertionError)


@pytest.mark.clause("RY6", "RY5")
@pytest.mark.parametrize("state", sorted(UNREACHABLE))
def test_a_backend_built_while_its_server_is_unreachable_serves_once_it_answers(
        make_backend, store_server, capabilities, state):
    """A backend built, on a location not used before, while its server
    refuses connections or never answers, with one retry: building it and
    its first store_result each end within the documented bound, raising (if
    at all) the store's error or Celery's retry errors, never one of the
    backend's own code; once the server answers, that same backend stores
    and reads a 1 MiB result (nothing it learnt during the outage lasts)."""
    settings = _merged({**RETRYING, "result_backend_max_retries": 1},
                       capabilities.quick_timeouts)
    probe = make_backend(**settings)
    documented = capabilities.operation_bound or getattr(probe, "operation_bound", None)
    if not documented and state == "stalled":
        pytest.skip("not run: the backend documents no bound, so no wait on a stalled server "
                    "can be judged; test_no_operation_blocks_past_its_bound_on_a_stalled_server "
                    "reports that")
    limit = float(documented(probe) if capabilities.operation_bound else documented()) \
        + BOUND_SLACK_S if documented else None
    with fault_proxy_before(store_server) as proxy:
        namespace = store_server.through(make_backend.new_namespace(), proxy.port)
        UNREACHABLE[state](proxy)
        made: dict = {}
        steps = {"building it": lambda: made.setdefault("backend", make_backend(
                     namespace=namespace, **_merged(namespace.settings, settings))),
                 "its first store_result": lambda: made["backend"].store_result(
                     _new_id(), {"v": "during"}, states.SUCCESS)}
        for step, call in steps.items():
            running = CallInThread(call, name=step)
            if limit is None and not running.ended_within(UNDOCUMENTED_REFUSAL_WAIT_S):
                pytest.skip(f"not run: the backend documents no bound, and {step} was still "
                            f"running {UNDOCUMENTED_REFUSAL_WAIT_S:.0f}s into a refusal "
                            f"(test_no_operation_blocks_past_its_bound_on_a_stalled_server "
                            f"reports the missing bound)")
            assert limit is None or running.ended_within(limit), (
                f"{step}, while the server is {state}, was still running after {limit:.1f}s "
                f"(the documented bound and {BOUND_SLACK_S:.0f}s), in\n"
                + running.where_blocked())
            assert not isinstance(running.error, PROGRAMMING_ERRORS), (
                f"{step}, while the server is {state}, raised an error of the backend's own "
                f"code: {exception_text(running.error)}")
            if "backend" not in made:
                break            # building it raised: a fresh one is built below
        proxy.heal()
        backend = made.get("backend") or make_backend(
            namespace=namespace, **_merged(namespace.settings, settings))
        what = "built" if "backend" in made else "first used"
        # what the probe (never cut off: the same server, not through the
        # proxy) stores: no limit or setting learnt during the outage may last
        for value in _values_a_healthy_backend_stores(probe):
            problem = _stores_and_reads(backend, value)
            assert problem is None, (
                f"once the server answered again, the backend {what} while it was {state} "
                f"could not, in {AFTER_FAULT_ATTEMPTS} tries, store and read a "
                f"{len(str(value))}-character result that a backend never cut off stores: "
                f"{problem}")


#: tries a write gets once a fault has ended, in the tests of lasting damage
AFTER_FAULT_ATTEMPTS = 3


def _stores_and_reads(backend, value, attempts: int = AFTER_FAULT_ATTEMPTS):
    """None if ``value`` stored under a new id reads back, in one of
    ``attempts`` tries (a loaded machine may time out once; lasting damage
    fails every try); else what went wrong the last time."""
    problem = None
    for _ in range(attempts):
        task_id = _new_id()
        try:
            backend.store_result(task_id, value, states.SUCCESS)
            meta = read(backend, task_id)
        except Exception as exc:
            problem = exception_text(exc)
            continue
        if (meta["status"], meta["result"]) == (states.SUCCESS, value):
            return None
        problem = f"it read back as {meta['status']}"
    return problem



#: a value whose text reads like a transient store error: a write's value
#: must not change how its failure is classified
ERROR_LIKE_VALUE = {"v": "database is locked; disk I/O error"}


def _relative_url(namespace):
    """``namespace`` addressed by a path relative to the working directory."""
    import dataclasses
    import os

    scheme, _, path = namespace.url.partition(":///")
    if not path or not os.path.isabs(path):
        pytest.skip("not run: the store's URL names no absolute file path to make relative")
    return dataclasses.replace(namespace, url=f"{scheme}:///{os.path.relpath(path)}")


@pytest.mark.clause("RY4")
@pytest.mark.parametrize("path", ["absolute", "relative"])
@pytest.mark.parametrize("connected", ["before", "after"])
def test_a_read_only_store_is_a_permanent_error_not_retried(make_backend, store_server,
                                                            connected, path):
    """A store that refuses writes (an embedded database whose file became
    read-only) gives a permanent error: with result_backend_always_retry,
    store_result raises it after one attempt, with no retry sleep, and not as
    a retry-exhausted BackendStoreError, whether the backend connected
    before the file became read-only or after, however its path is written,
    and whatever the refused value's text. Stored results still read back
    while it is read-only."""
    from celery.exceptions import BackendStoreError

    from celery_conformance.containers import StoreUnavailable

    if "read-only" not in store_server.supported_faults:
        pytest.skip(f"not run: the harness cannot make a {store_server.name} store "
                    f"read-only (it can for embedded database files)")
    namespace = make_backend.namespace if path == "absolute" else \
        _relative_url(make_backend.namespace)
    settings = {**RETRYING, "result_backend_max_retries": 3}
    backend = make_backend(namespace=namespace, **settings)
    kept = _new_id()
    backend.store_result(kept, {"v": "kept"}, states.SUCCESS)
    try:
        with store_server.read_only(make_backend.namespace):
            if connected == "after":
                backend = make_backend(namespace=namespace, **settings)
            sleeps = _sleeping_recorder(backend)
            meta = read(backend, kept)
            try:
                backend.store_result(_new_id(), ERROR_LIKE_VALUE, states.SUCCESS)
            except Exception as exc:
                error = exc
            else:
                error = None
    except StoreUnavailable as exc:
        pytest.skip(f"not run: {exc}")
    assert error is not None, "a write to a read-only store succeeded"
    assert not isinstance(error, BackendStoreError), (
        f"a read-only store was retried until max_retries ({len(sleeps)} retry sleeps): "
        f"{error}")
    assert not sleeps, (f"a read-only store was retried {len(sleeps)} times before "
                        f"{type(error).__name__}: {error} was raised")
    assert meta["result"] == {"v": "kept"}, "a stored result no longer reads back"
