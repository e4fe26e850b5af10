"""Shared plumbing for contract tests: clocks, parallel runs, fault injection.

Nothing here asserts anything about a backend; tests do. Everything here works
for any backend class, selected by capability, never by name.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import multiprocessing
import os
import queue as queue_module
import threading
import traceback
import weakref
from dataclasses import dataclass
from typing import Callable, Iterator, Optional

import pytest

UTC = dt.timezone.utc


# ------------------------------------------------------------------ clocks
def require_client_clock(capabilities) -> None:
    """Skip a clock-travel test where the client's clock does not decide expiry
    (its real-time variant runs instead)."""
    if capabilities.server_clock:
        pytest.skip("not run: the store stamps completion times with the server's clock "
                    "(server_clock), which moving the client's clock cannot control; the "
                    "real-time variant checks this clause")
    if not capabilities.client_clock_expiry:
        pytest.skip("not run: the store measures expiry with its own clock (expiry_clock="
                    "'server': a TTL or file times), which moving the client's clock cannot "
                    "control; the real-time variant checks this clause")


def require_server_expiry_clock(capabilities) -> None:
    """Skip a real-time expiry test where clock travel already controls expiry."""
    if capabilities.client_clock_expiry:
        pytest.skip("not run: expiry follows the client's clock here, so the clock-travel "
                    "variant of this clause checks it (without waiting in real time)")


@contextlib.contextmanager
def clock_at(when: dt.datetime) -> Iterator[None]:
    """Run the block with the process clock (time.time, datetime.now) moved to
    ``when``; the clock keeps ticking from there."""
    import time_machine

    with time_machine.travel(when, tick=True):
        yield


def real_now() -> dt.datetime:
    return dt.datetime.now(UTC)


# ------------------------------------------------------------------ backends
#: the URL each backend was built with (some backends do not keep it in .url)
_BUILT_WITH: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def build_backend(cls, app, url, install=True):
    """``cls(app=app, url=url)``, installed as the app's backend (unless
    ``install`` is false) so that result objects built on the app
    (AsyncResult(id, app=app), restored groups) use it rather than a second
    one Celery would build from result_backend."""
    backend = cls(app=app, url=url)
    if install:
        app._backend = backend
    _BUILT_WITH[backend] = url
    return backend


def clone_backend(backend):
    """A new backend of the same class, app settings and URL: what a worker
    thread or a forked worker process builds for itself (from the URL it was
    configured with, as a worker would, even where .url does not keep it).
    Where results are messages to a client, its writes go to the client the
    original's writes go to."""
    clone = type(backend)(app=backend.app, url=_BUILT_WITH.get(backend) or backend.url)
    if backend in _CAPABILITIES:
        _CAPABILITIES[clone] = _CAPABILITIES[backend]
    if backend in _REPLY_TO:
        address_replies(clone, _REPLY_TO[backend])
    return clone


#: what the backend under test declares, for each backend the harness built
_CAPABILITIES: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def open_backdoor(spec, backend, required: bool = True):
    """Raw access to ``backend``'s store through the backdoor its spec declares
    (suite.backdoors). Without one the test is not run, or with
    ``required=False`` the answer is None."""
    path = spec.backdoor_path()
    if path is None:
        if not required:
            return None
        pytest.skip("not run: the backend declares no backdoor to read its raw store "
                    "(BackendSpec.backdoor)")
    from celery.utils.imports import symbol_by_name

    return symbol_by_name(path)(backend)


def declare_capabilities(backend, capabilities) -> None:
    _CAPABILITIES[backend] = capabilities


def capabilities_of(backend):
    """The capabilities declared for ``backend`` (defaults where the harness
    did not build it)."""
    from .capabilities import Capabilities

    return _CAPABILITIES.get(backend) or Capabilities()


def keeps_groups(backend) -> bool:
    """True when ``backend`` stores groups (the stores_groups capability): the
    group half of a test about tasks and groups runs only then."""
    return capabilities_of(backend).stores_groups


def readdress_like(copy, original) -> None:
    """Give ``copy`` (a pickled and unpickled ``original``) what the harness
    gave the original: its declared capabilities and where its writes go."""
    if original in _CAPABILITIES:
        _CAPABILITIES[copy] = _CAPABILITIES[original]
    if original in _REPLY_TO:
        address_replies(copy, _REPLY_TO[original])


#: the client each addressed backend's writes go to (results_to_sender)
_REPLY_TO: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def address_replies(backend, client) -> None:
    """Make every write through ``backend`` a reply to ``client`` (a backend
    built as the client that sent the task), as a worker's writes are, for
    results_to_sender backends, which store nothing for a write with no reply
    address. The same code runs the standalone reproductions."""
    from .repro._run import reply_to_sender

    reply_to_sender(backend, client)
    _REPLY_TO[backend] = client


def exception_text(exc: BaseException) -> str:
    """The exception with its whole chain, formatted as a traceback."""
    return "".join(traceback.format_exception(exc))


def exception_chain(exc: Optional[BaseException]) -> list:
    """``exc`` and every exception it was raised from or during."""
    seen = []
    while exc is not None and exc not in seen:
        seen.append(exc)
        exc = exc.__cause__ or exc.__context__
    return seen


# ------------------------------------------------------------ parallel runs
@dataclass(frozen=True)
class WorkerError:
    """One exception raised by one worker in one round (text: formatted chain)."""

    worker: int
    round: Optional[int]
    text: str

    def __str__(self) -> str:
        where = f"worker {self.worker}" + ("" if self.round is None else f", round {self.round}")
        return f"[{where}] {self.text.strip()}"


def run_parallel(make_workers: Callable[[], list], n_workers: int, rounds: int,
                 mode: str, timeout: float = 120.0, app=None) -> list:
    """Run ``n_workers`` workers at once, ``rounds`` times, and return every
    error as a list of :class:`WorkerError`.

    ``make_workers(i)`` is called inside worker ``i`` (a thread, or a process
    forked for it) and returns ``work(round)``; each round starts for every
    worker at the same barrier, to maximise overlap. ``mode`` is "threads" or
    "processes" (forked; the child builds what it needs, e.g. with
    :func:`clone_backend`, after what a Celery prefork child runs for ``app``:
    :func:`prefork_child_init`).
    """
    if mode == "threads":
        return _run_threads(make_workers, n_workers, rounds, timeout)
    if mode == "processes":
        return _run_processes(make_workers, n_workers, rounds, timeout, app)
    raise ValueError(f"unknown mode {mode!r}")


def _worker_loop(index, make_workers, rounds, barrier, report, timeout) -> None:
    try:
        work = make_workers(index)
    except BaseException as exc:
        report(index, None, exception_text(exc))
        barrier.abort()
        return
    for r in range(rounds):
        try:
            barrier.wait(timeout)
        except threading.BrokenBarrierError as exc:
            report(index, r, "barrier broken: another worker died or timed out\n"
                   + exception_text(exc))
            return
        try:
            work(r)
        except BaseException as exc:
            report(index, r, exception_text(exc))


def _run_threads(make_workers, n_workers, rounds, timeout) -> list:
    barrier = threading.Barrier(n_workers)
    errors: list = []
    lock = threading.Lock()

    def report(i, r, text):
        with lock:
            errors.append(WorkerError(i, r, text))

    threads = [threading.Thread(target=_worker_loop, daemon=True,
                                args=(i, make_workers, rounds, barrier, report, timeout))
               for i in range(n_workers)]
    for t in threads:
        t.start()
    for i, t in enumerate(threads):
        t.join(timeout)
        if t.is_alive():
            errors.append(WorkerError(i, None, f"thread still running after {timeout}s"))
    return errors


class CallInThread:
    """``call()`` run in a daemon thread of its own, so that a test waits for
    it a bounded time and, if it is still running, says where it waits. An
    exception it raises is kept as its outcome, not raised."""

    def __init__(self, call: Callable[[], object], name: str = "call") -> None:
        self.outcome: Optional[str] = None     # "returned" or "raised SomeError"
        self.error: Optional[BaseException] = None
        self.seconds: Optional[float] = None
        self._thread = threading.Thread(target=self._run, args=(call,), daemon=True, name=name)
        self._thread.start()

    def _run(self, call) -> None:
        import time

        started = time.monotonic()
        try:
            call()
            self.outcome = "returned"
        except Exception as exc:
            self.outcome, self.error = f"raised {type(exc).__name__}", exc
        self.seconds = time.monotonic() - started

    def ended_within(self, seconds: float) -> bool:
        """Wait up to ``seconds`` for the call to end; whether it has."""
        self._thread.join(max(0.0, seconds))
        return not self._thread.is_alive()

    def where_blocked(self) -> str:
        """Where the call waits: its stack outside Python's standard library
        and the test modules, one line per file (its consecutive frames
        merged); "" once it has ended."""
        import sys
        import sysconfig

        frame = sys._current_frames().get(self._thread.ident)
        if frame is None or not self._thread.is_alive():
            return ""
        stdlib = sysconfig.get_paths()["stdlib"]
        here = os.path.dirname(os.path.abspath(__file__))
        runs: list = []          # [filename, [(line function)...]]
        for f in traceback.extract_stack(frame):
            if f.filename.startswith(stdlib) or (
                    os.path.dirname(f.filename) == here and
                    os.path.basename(f.filename).startswith(("test_", "plumbing"))):
                continue
            if runs and runs[-1][0] == f.filename:
                runs[-1][1].append(f"{f.lineno} {f.name}")
            else:
                runs.append([f.filename, [f"{f.lineno} {f.name}"]])
        return "".join(f"    {name}: {', '.join(calls)}\n" for name, calls in runs)


@contextlib.contextmanager
def held_by_another_thread(hold: Callable[[], contextlib.AbstractContextManager], what: str,
                           release_after: Optional[float] = None,
                           timeout: float = 30.0) -> Iterator[None]:
    """Hold ``with hold():`` in a thread of its own (a lock, a transaction: what
    another client would hold) while the body runs; it is released after
    ``release_after`` seconds, if given, and in any case when the body ends.
    Fails, naming ``what``, if the thread could not take it."""
    held, release = threading.Event(), threading.Event()
    problems: list = []

    def run() -> None:
        try:
            with hold():
                held.set()
                release.wait(timeout + (release_after or 0))
        except Exception as exc:             # reported below, not lost in the thread
            problems.append(exc)
            held.set()

    holder = threading.Thread(target=run, daemon=True)
    holder.start()
    if not held.wait(timeout) or problems:
        release.set()
        pytest.fail(f"the harness could not take {what}: "
                    + (f"{type(problems[0]).__name__}: {problems[0]}" if problems
                       else f"not within {timeout} s"))
    timer = None
    if release_after is not None:
        timer = threading.Timer(release_after, release.set)
        timer.daemon = True
        timer.start()
    try:
        yield
    finally:
        release.set()
        if timer is not None:
            timer.cancel()
        holder.join(timeout)


def prefork_child_init(app) -> None:
    """What a Celery prefork pool child runs after fork before its first task
    (celery.concurrency.prefork.process_initializer), as far as a backend can
    depend on it: the loader's worker hooks (where fixups close connections
    inherited from the parent) and the worker_process_init signal."""
    from celery import signals
    from celery._state import _set_task_join_will_block

    _set_task_join_will_block(True)
    app.loader.init_worker()
    app.loader.init_worker_process()
    signals.worker_process_init.send(sender=f"conformance-child-{os.getpid()}")


def _process_main(index, make_workers, rounds, barrier, results, timeout, app) -> None:
    def report(i, r, text):
        results.put((i, r, text))

    if app is not None:
        try:
            prefork_child_init(app)
        except BaseException as exc:
            report(index, None, "worker_process_init failed\n" + exception_text(exc))
    _worker_loop(index, make_workers, rounds, barrier, report, timeout)
    results.put((index, "done", None))


def _run_processes(make_workers, n_workers, rounds, timeout, app=None) -> list:
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(n_workers)
    results = ctx.Queue()
    procs = [ctx.Process(target=_process_main, daemon=True,
                         args=(i, make_workers, rounds, barrier, results, timeout, app))
             for i in range(n_workers)]
    for p in procs:
        p.start()
    errors: list = []
    done: set = set()
    deadline = threading.Event()
    timer = threading.Timer(timeout, deadline.set)
    timer.start()
    try:
        while len(done) < n_workers and not deadline.is_set():
            try:
                i, r, text = results.get(timeout=0.2)
            except queue_module.Empty:
                if all(not p.is_alive() for p in procs):
                    # drain what is left, then stop waiting
                    try:
                        while True:
                            i, r, text = results.get(timeout=0.2)
                            if r == "done":
                                done.add(i)
                            else:
                                errors.append(WorkerError(i, r, text))
                    except queue_module.Empty:
                        break
                continue
            if r == "done":
                done.add(i)
            else:
                errors.append(WorkerError(i, r, text))
    finally:
        timer.cancel()
        for i, p in enumerate(procs):
            p.join(5)
            if p.is_alive():
                p.kill()
                p.join(5)
                errors.append(WorkerError(i, None, f"process still running after {timeout}s"))
            elif p.exitcode != 0:
                errors.append(WorkerError(i, None, f"process exited with code {p.exitcode}"))
            elif i not in done:
                errors.append(WorkerError(i, None, "process exited without reporting"))
        results.close()
    return errors


# ----------------------------------------------------------- fault injection
@contextlib.contextmanager
def fault_proxy_before(store) -> Iterator:
    """A FaultProxy in front of ``store``'s server for the block; the test is
    not run where there is no connection on 127.0.0.1 to break."""
    from celery_conformance.containers.faults import FaultProxy

    address = store.network_address()
    if address is None:
        pytest.skip(f"not run: {store.name} is embedded: there is no network "
                    f"connection to break")
    host, port = address
    if host not in ("127.0.0.1", "localhost"):
        pytest.skip(f"not run: the fault proxy breaks only servers on 127.0.0.1, and "
                    f"{store.name} is on another host")
    proxy = FaultProxy(port)
    try:
        yield proxy
    finally:
        proxy.close()


class InjectedFailures:
    """Replace ``backend.<method>`` on the instance: the first calls raise the
    given errors, one per call, later calls delegate to the real method.
    ``attempts`` counts every call. Restore with :meth:`restore`."""

    def __init__(self, backend, method: str, errors: list) -> None:
        self.backend = backend
        self.method = method
        self.errors = list(errors)
        self.attempts = 0
        self._had_instance_attr = method in vars(backend)
        self._saved = vars(backend).get(method)
        real = getattr(backend, method)

        def injected(*args, **kwargs):
            self.attempts += 1
            if self.attempts <= len(self.errors):
                raise self.errors[self.attempts - 1]
            return real(*args, **kwargs)

        injected.__name__ = method
        setattr(backend, method, injected)

    def restore(self) -> None:
        if self._had_instance_attr:
            setattr(self.backend, self.method, self._saved)
        else:
            delattr(self.backend, self.method)


def record_sleeps(backend) -> list:
    """Replace the backend's retry sleep (``Backend._sleep``) on the instance
    with a recorder that does not sleep; returns the list of requested sleeps."""
    sleeps: list = []
    backend._sleep = sleeps.append
    return sleeps


# ---------------------------------------------------------------- security
MARKER_TEXT = "unpickled by the backend"


def write_marker(path: str) -> str:
    """Called only if a planted pickle is unpickled: leaves a file behind."""
    with open(path, "w") as f:
        f.write(MARKER_TEXT)
    return MARKER_TEXT


class UnpicklingMarker:
    """Pickles to a payload that, when unpickled, calls :func:`write_marker`."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (write_marker, (self.path,))
