"""A real Celery worker for the end-to-end contract (suite/test_worker.py).

One worker per target and test module (and pool): a ``celery worker``
process importing :mod:`celery_conformance.suite.worker_app`, configured as a
user's app is (``result_backend`` as ``module:Class+URL``, the namespace's
settings), against a real broker on a namespace of its own: Redis (the
harness's store route: a URL, testcontainers, or Debian's ``redis-server`` on a
free port) or RabbitMQ (``--worker-broker=rabbitmq``). Where the backend's
results are messages to the sender (``rpc://``), its own store is the broker.

The worker's log is attached to every failing test that used it, with the
configured passwords replaced by ``***``.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
import uuid
from typing import Optional
from urllib.parse import unquote, urlsplit

import pytest

from celery_conformance.containers._process import ServerProcess

from . import worker_app

#: seconds a worker may take to print "ready."
READY_TIMEOUT_S = 90.0
#: the pools a worker runs with: (pool, concurrency)
POOLS = {"prefork": 2, "threads": 4}


def _passwords(*urls: str) -> list:
    """The passwords in ``urls``, as given and URL-unquoted."""
    found = []
    for url in urls:
        try:
            password = urlsplit(url).password
        except ValueError:
            continue
        if password:
            found += [password, unquote(password)]
    return found


class CeleryWorker:
    """A ``celery worker`` process and the client app that talks to it."""

    def __init__(self, settings: dict, pool: str, workdir: str, secrets: list) -> None:
        self.settings = settings
        self.pool = pool
        self.concurrency = POOLS[pool]
        self.workdir = workdir
        self._secrets = [s for s in secrets if s]
        self.queue = f"conformance-{uuid.uuid4().hex[:12]}"
        self.settings = {**settings, "task_default_queue": self.queue}
        self.app = worker_app.build_app(self.settings)
        self.log_path = os.path.join(workdir, f"worker-{pool}.log")
        self._stopping = False
        env = {**os.environ, worker_app.SETTINGS_ENV: json.dumps(self.settings)}
        cmd = [sys.executable, "-m", "celery", "-A", worker_app.__name__, "worker",
               "--pool", pool, "--concurrency", str(self.concurrency), "--loglevel", "INFO",
               "--hostname", f"{self.queue}@%h", "--queues", self.queue,
               "--without-gossip", "--without-mingle", "--without-heartbeat",
               "--prefetch-multiplier", "1"]
        started = time.monotonic()
        self.process = ServerProcess(cmd, self.log_path, env=env, cwd=workdir)
        try:
            self.process.wait_ready(self._printed_ready, READY_TIMEOUT_S,
                                    f"celery worker ({pool})")
        except RuntimeError as exc:
            raise RuntimeError(self.redact(str(exc))) from None
        self.start_seconds = time.monotonic() - started

    def _printed_ready(self) -> bool:
        with open(self.log_path, "rb") as f:
            return b" ready." in f.read()

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def log_tail(self, lines: int = 80) -> str:
        return self.redact(self.process.log_tail(lines))

    def runs(self, label: str = "") -> str:
        """A fresh directory in which tasks mark each run (worker_app)."""
        path = tempfile.mkdtemp(prefix=f"runs-{label}-", dir=self.workdir)
        return path

    @staticmethod
    def count_runs(runs: str, label: str) -> int:
        return sum(1 for name in os.listdir(runs) if name.startswith(label + "-"))

    def signature(self, name: str, *args, **kwargs):
        return self.app.signature(worker_app.PREFIX + name, args=args, kwargs=kwargs)

    def begin_stop(self) -> None:
        """Ask the worker for a warm shutdown (once) without waiting for it."""
        if not self._stopping and self.process.proc.poll() is None:
            self.process.proc.send_signal(self.process.stop_signal)
        self._stopping = True

    def stop(self) -> None:
        """A warm shutdown, waited for; past 30 s the worker is killed."""
        self.begin_stop()
        try:
            self.process.proc.wait(30)
        except Exception:
            pass
        self.process.stop(timeout=5)
        self.app.close()


def _broker_namespace(state, target, choice: str):
    """(store, namespace) carrying the task messages."""
    from celery_conformance.containers import StoreUnavailable

    if target.spec.capabilities.results_to_sender:
        choice = target.store
    try:
        store = state.broker.get(choice)
    except StoreUnavailable as exc:
        message = f"the worker's broker ({choice}) is unavailable: {exc}"
        if choice in state.settings.required_stores:
            pytest.fail(message, pytrace=False)
        pytest.skip(f"not run: {message}")
    return store, store.create_namespace("worker-broker")


def _broker_settings(namespace) -> dict:
    settings = {"broker_url": namespace.url}
    settings.update({k: v for k, v in namespace.settings.items() if k.startswith("broker")})
    transport = namespace.settings.get("result_backend_transport_options")
    if transport and "global_keyprefix" in transport:
        settings["broker_transport_options"] = {"global_keyprefix": transport["global_keyprefix"]}
    return settings


def worker_settings(backend: str, namespace, broker_namespace, **celery_settings) -> dict:
    """The worker's and client's Celery settings: the backend class
    ``backend`` (module:Class) on ``namespace`` as result_backend, the broker
    on ``broker_namespace``, extended results, errors of ignored tasks kept."""
    return {
        "result_backend": f"{backend}+{namespace.url}",
        "result_serializer": "json", "accept_content": ["json"],
        "result_accept_content": ["json"], "task_serializer": "json",
        "result_extended": True, "task_store_errors_even_if_ignored": True,
        "worker_hijack_root_logger": False,
        # celery.chord_unlock (backends without incr) polls the header this often
        "result_chord_retry_interval": 0.2,
        **_broker_settings(broker_namespace),
        **namespace.settings, **namespace.trust_settings, **celery_settings,
    }


def redacting_worker(settings: dict, pool: str, workdir: str, *namespaces) -> CeleryWorker:
    """A started worker whose log hides the passwords of ``namespaces``' URLs."""
    return CeleryWorker(settings, pool, workdir, _passwords(*(ns.url for ns in namespaces)))


@pytest.fixture(scope="module")
def worker_factory(conformance_target, conformance_state, request, tmp_path_factory):
    """Starts workers of the target's backend on a namespace of their own,
    one per pool, reused by every test of the module; stops them after it."""
    from celery_conformance.containers import StoreUnavailable

    try:
        store = conformance_state.broker.get(conformance_target.store)
    except StoreUnavailable as exc:
        if conformance_target.store in conformance_state.settings.required_stores:
            pytest.fail(f"required store {conformance_target.store!r} unavailable: {exc}",
                        pytrace=False)
        pytest.skip(f"not run: {exc}")
    workers: dict = {}
    made: list = []
    choice = conformance_state.settings.worker_broker

    def get(pool: str = "prefork", through: Optional[int] = None,
            **celery_settings) -> CeleryWorker:
        """The module's worker with this pool and these extra Celery settings
        (``result_expires=1``), started on first use; ``through``: its backend
        reaches the store through 127.0.0.1:``through`` (a fault proxy)."""
        key = (pool, through, json.dumps(celery_settings, sort_keys=True))
        if key in workers:
            return workers[key]
        namespace = store.create_namespace(f"worker-{pool}")
        made.append((store, namespace))
        if not getattr(store, "isolates", True):
            namespace = conformance_target.spec.narrow_namespace(namespace)
        if through is not None:
            namespace = store.through(namespace, through)
        broker_store, broker_ns = _broker_namespace(conformance_state, conformance_target,
                                                    choice)
        made.append((broker_store, broker_ns))
        workdir = str(tmp_path_factory.mktemp(f"worker-{pool}"))
        worker = redacting_worker(
            worker_settings(conformance_target.spec.backend, namespace, broker_ns,
                            **celery_settings), pool, workdir, namespace, broker_ns)
        workers[key] = worker
        return worker

    get.workers = workers
    get.store = store
    try:
        yield get
    finally:
        # warm shutdowns in parallel: each waits for its pool's processes
        for worker in workers.values():
            worker.begin_stop()
        for worker in workers.values():
            try:
                worker.stop()
            except Exception:
                pass
        for owner, namespace in reversed(made):
            try:
                owner.drop_namespace(namespace)
            except Exception:
                pass


@pytest.fixture
def start_worker(worker_factory, request):
    """``start_worker(pool, through=None, **celery_settings)``: the module's
    worker with that pool and those settings (worker_factory), whose log is
    attached to this test's report if it fails."""
    def start(pool: str = "prefork", through: Optional[int] = None,
              **celery_settings) -> CeleryWorker:
        w = worker_factory(pool, through, **celery_settings)
        request.node.stash.setdefault(WORKERS_KEY, []).append(w)
        return w

    return start


@pytest.fixture
def worker(start_worker):
    """The module's prefork worker (2 processes) of the target under test."""
    return start_worker("prefork")


@pytest.fixture
def threads_worker(start_worker):
    """The module's threads-pool worker (4 threads) of the target under test."""
    return start_worker("threads")


WORKERS_KEY = pytest.StashKey[list]()


def worker_log_sections(item) -> list:
    """(title, text) report sections with the log tail of each worker a test used."""
    return [(f"celery worker log, {w.pool} pool (last lines)", w.log_tail())
            for w in item.stash.get(WORKERS_KEY, [])]

