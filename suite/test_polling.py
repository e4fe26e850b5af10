"""PL: waiting for a result (AsyncResult.get, wait_for), bulk reads
(mget/get_many) and the client cache."""

from __future__ import annotations

import contextlib
import math
import random
import threading
import time
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from celery import states
from celery.exceptions import TimeoutError as CeleryTimeoutError
from celery.result import AsyncResult

from . import boundaries
from .strategies import custom_states, json_values, plain_task_ids
from .helpers import read

# ------------------------------------------------------------ wall-clock bounds
#: PL1 is a wall-clock guarantee: a wait with timeout t is over within
#: t + one polling interval. A wait also does work that is not waiting (its
#: reads of the store, subscribing, decoding), so each test checks
#:
#:     elapsed - late <= t + interval + allowance
#:     allowance = max(ALLOWANCE_FLOOR_S, polls * max(READS_PER_POLL * read, POLL_FLOOR_S))
#:
#: ``late``: how much later than asked the test thread's time.sleep calls
#: woke up (measured exactly, see counting_sleeps): the scheduler's doing,
#: not the backend's. ``read``: the median wall time of three plain
#: get_task_meta reads of the same id on the same backend, just before the
#: wait. ``polls``: the reads a wait may make, ceil(t / interval) + 2.
#:
#: The figures behind the numbers (2-core machine; SQLite and Redis local):
#: a plain read takes ~0.1-0.2 ms on Redis and on the reference backend,
#: ~1.3 ms on Celery's DatabaseBackend (up to ~7 ms under load). The worst
#: overshoot of a conforming backend past t + interval, in 150 waits with
#: t, interval drawn as below (a third at the smallest interval), was ~0.1 s
#: alone and with two such processes at once (as under pytest-xdist -n 2);
#: with two CPU hogs on top it reached 0.30 s, sleep lateness taken out: 17
#: polls of ~17 ms each, the thread waiting for a CPU, although the reads
#: timed just before took ~2 ms. Hence POLL_FLOOR_S: a poll may cost 20 ms
#: whatever its read; and the smallest interval drawn is 0.02 s, so that a
#: wait polls at most 17 times. The floor of 0.25 s absorbs the hiccups of a
#: wait that polls little. With t and interval at most 0.3 s the bound stays
#: at or below 0.85 s while reads are fast, so a wait with timeout 0.3 s
#: that takes 1.0 s (one whole 1 s wait past the deadline) is reported.
ALLOWANCE_FLOOR_S = 0.25
READS_PER_POLL = 3
POLL_FLOOR_S = 0.02

#: timeouts and intervals the timing tests draw (see above)
timeouts = st.floats(min_value=0.01, max_value=0.3)
intervals = st.floats(min_value=0.02, max_value=0.3)

#: a wait with timeout 0 is given an interval at least this long, so that one
#: wait of it could not pass unnoticed (it is also kept above 4 x the allowance)
LONG_INTERVAL_S = 2.0

#: how long a test waits for a result it makes ready while waiting: a deadline
#: far past any bound checked, only there so a lost result fails, not hangs
READY_DEADLINE_S = 5.0


#: how long a loaded machine may delay a thread that does not wait at all
SCHEDULING_SLACK_S = 0.5

#: a wait past its bound is tried again up to this many times in all before
#: it is reported: starvation comes and goes, a wait too many does not
WAIT_ATTEMPTS = 3


def read_time(backend, task_id) -> float:
    """Median wall time of three plain ``get_task_meta(task_id)`` reads."""
    times = []
    for _ in range(3):
        started = time.monotonic()
        backend.get_task_meta(task_id)
        times.append(time.monotonic() - started)
    return sorted(times)[1]


def allowance(read: float, timeout: float, interval: float) -> float:
    """Seconds a wait may take past timeout + interval for its own work."""
    polls = (math.ceil(timeout / interval) if timeout else 0) + 2
    return max(ALLOWANCE_FLOOR_S, polls * max(READS_PER_POLL * read, POLL_FLOOR_S))


def long_interval(allow: float) -> float:
    """The interval for a wait with timeout 0: one wait of it would show."""
    return max(LONG_INTERVAL_S, 4 * allow)


# ------------------------------------------------------------------ sleeps
class SleepLog:
    """The time.sleep calls made by the test's own thread: what each asked
    for, and how much later than that each woke up."""

    def __init__(self, on_sleep=None) -> None:
        self.amounts: list[float] = []
        self.lateness: list[float] = []
        self.on_sleep = on_sleep

    @property
    def naps(self) -> list[float]:
        return [a for a in self.amounts if a > 0]

    def late(self, first: int = 0) -> float:
        """Seconds the scheduler added to the sleeps from the ``first``th on:
        time a wait spent that neither it nor the backend asked for."""
        return sum(self.lateness[first:])


@contextlib.contextmanager
def counting_sleeps(on_sleep=None):
    """Record (and still perform) every time.sleep of the calling thread;
    ``on_sleep(log)`` runs before each one."""
    log = SleepLog(on_sleep)
    real_sleep = time.sleep
    me = threading.get_ident()

    def sleep(amount):
        if threading.get_ident() != me:
            return real_sleep(amount)
        log.amounts.append(amount)
        if log.on_sleep is not None:
            log.on_sleep(log)
        started = time.monotonic()
        try:
            return real_sleep(amount)
        finally:
            log.lateness.append(max(0.0, time.monotonic() - started - max(amount, 0)))

    time.sleep = sleep
    try:
        yield log
    finally:
        time.sleep = real_sleep


# ------------------------------------------------------------------ results
def store_ready(backend, task_id, state, value):
    """Write a ready state the way a worker does."""
    if state == states.SUCCESS:
        backend.store_result(task_id, value, states.SUCCESS)
    elif state == states.FAILURE:
        backend.mark_as_failure(task_id, ValueError(value))
    else:
        backend.mark_as_revoked(task_id, "conformance")


ready_states = st.sampled_from([states.SUCCESS, states.FAILURE, states.REVOKED])
pending_states = st.one_of(st.sampled_from([None, states.STARTED, states.RETRY, "PROGRESS"]),
                           custom_states)


def store_not_ready(backend, task_id, state):
    """Leave task_id unready: never stored (None) or in a non-ready state."""
    if state == states.RETRY:
        backend.mark_as_retry(task_id, RuntimeError("again"))
    elif state is not None:
        backend.store_result(task_id, {"progress": 1}, state)


def get(backend, task_id, timeout, interval):
    """Wait as a client does: ``AsyncResult(id).get(timeout, interval,
    propagate=False)`` on the backend's app. Returns (result, value)."""
    result = AsyncResult(task_id, app=backend.app)
    return result, result.get(timeout=timeout, interval=interval, propagate=False)


def check_ready_result(result, got, state, value) -> None:
    """``got`` is what get(propagate=False) must return for a result left in
    ``state`` by store_ready: the value, or the stored exception."""
    assert result.state == state, f"get() returned a {result.state!r} result, not {state!r}"
    if state == states.SUCCESS:
        assert got == value, f"get() returned {got!r}, not the stored value {value!r}"
    else:
        assert isinstance(got, BaseException), (
            f"get(propagate=False) of a {state} result returned {got!r}, not its exception")


def is_async(backend) -> bool:
    """Waits inside a result consumer (drain_events with a timeout), not by
    sleeping between reads: sleeps cannot be counted there."""
    return bool(getattr(backend, "is_async", False))


NO_WAIT_FOR = ("not run: the backend has no wait_for (it waits through AsyncResult.get: "
               "is_async backends)")


def require_wait_for(backend) -> None:
    """Not run where a client does not wait through backend.wait_for."""
    if not hasattr(backend, "wait_for") or is_async(backend):
        pytest.skip(NO_WAIT_FOR)


@pytest.fixture
def writer(make_backend, backend):
    """A second backend on the same store: the worker that finishes the task."""
    return make_backend(worker_for=backend)


# --------------------------------------------------------- PL1: AsyncResult.get
@pytest.mark.clause("PL1")
@given(task_id=plain_task_ids(), state=ready_states, value=st.integers())
def test_get_with_timeout_zero_returns_a_ready_result_without_waiting(backend, task_id, state,
                                                                      value):
    """AsyncResult(id).get(timeout=0) of a ready result returns it at once:
    the value, or the exception with propagate=False; no wait."""
    store_ready(backend, task_id, state, value)
    with without_waiting(backend, task_id, "get(timeout=0) of a ready result") as interval:
        result, got = get(backend, task_id, 0, interval)
    check_ready_result(result, got, state, value)


@contextlib.contextmanager
def without_waiting(backend, task_id, what: str):
    """The block (a wait with timeout 0, given the interval yielded: one so
    long that a single wait of it shows) must not sleep, and must take no
    longer than the allowance for its own reads plus a scheduling slack (a
    loaded machine delays a thread by a few hundred milliseconds; a wait of
    one interval, or of a fixed 1 s drain step, still shows)."""
    allow = allowance(read_time(backend, task_id), 0, 1)
    interval = long_interval(allow)
    started = time.monotonic()
    with counting_sleeps() as log:
        yield interval
    elapsed = time.monotonic() - started
    if not is_async(backend):
        assert not log.naps, f"{what} slept {log.naps}"
    assert elapsed <= allow + SCHEDULING_SLACK_S, (
        f"{what} (interval={interval:.2f}) took {elapsed:.3f}s (allowance {allow:.3f}s "
        f"+ {SCHEDULING_SLACK_S}s slack): it waited")


@pytest.mark.clause("PL1")
@given(task_id=plain_task_ids(), state=pending_states)
def test_get_with_timeout_zero_raises_timeout_without_waiting(backend, task_id, state):
    """AsyncResult(id).get(timeout=0) of a result that is not ready raises
    Celery's TimeoutError at once: no wait."""
    store_not_ready(backend, task_id, state)
    with without_waiting(backend, task_id, "get(timeout=0) raising TimeoutError") as interval:
        with pytest.raises(CeleryTimeoutError):
            get(backend, task_id, 0, interval)


@pytest.mark.clause("PL1")
@given(task_id=plain_task_ids(), state=pending_states,
       timeout=timeouts, interval=intervals)
def test_get_times_out_within_timeout_plus_one_interval(backend, task_id, state, timeout,
                                                        interval):
    """AsyncResult(id).get(timeout=t, interval=i) of a result that stays
    unready raises TimeoutError within t + i (wall clock, plus the allowance
    for its own work)."""
    store_not_ready(backend, task_id, state)
    assert_times_out_in_time(backend, task_id, timeout, interval, "get", get,
                             count_sleeps=not is_async(backend))


def assert_times_out_in_time(backend, task_id, timeout, interval, what, wait,
                             count_sleeps: bool) -> None:
    """``wait(backend, task_id, timeout, interval)`` raises TimeoutError within
    t + i of wall clock (plus the allowance for its own work) and, where its
    sleeps can be counted, having slept at most t + i.

    The wall-clock bound is judged on the quickest of up to WAIT_ATTEMPTS
    waits: a backend that waits too long does so every time (a whole extra
    interval, or a fixed drain step), while a thread starved of CPU on a
    loaded machine is starved only now and then."""
    overshoots = []
    for _ in range(WAIT_ATTEMPTS):
        read = read_time(backend, task_id)
        allow = allowance(read, timeout, interval)
        started = time.monotonic()
        with counting_sleeps() as log:
            with pytest.raises(CeleryTimeoutError):
                wait(backend, task_id, timeout, interval)
        took = time.monotonic() - started
        elapsed = took - log.late()  # the scheduler's lateness in waking its sleeps out
        if count_sleeps:
            slept = sum(log.naps)
            assert slept <= timeout + interval + 1e-6, (
                f"{what}(timeout={timeout}, interval={interval}) slept {slept:.3f}s in {log.naps}")
        if elapsed <= timeout + interval + allow:
            return
        overshoots.append(
            f"took {took:.3f}s, {elapsed:.3f}s not counting {took - elapsed:.3f}s of late "
            f"wake-ups from sleeps: {elapsed - timeout - interval:.3f}s past timeout + interval, "
            f"more than the allowance of {allow:.3f}s for its own work (one read: "
            f"{read * 1000:.1f}ms)")
    raise AssertionError(
        f"{what}(timeout={timeout:.3f}, interval={interval:.3f}) overshot in each of "
        f"{WAIT_ATTEMPTS} waits: " + "; ".join(overshoots))


@pytest.mark.clause("PL1")
@given(task_id=plain_task_ids(), state=ready_states, value=st.integers(),
       interval=st.floats(min_value=0.02, max_value=0.1),
       ready_after=st.integers(min_value=1, max_value=3))
def test_get_returns_the_result_once_it_becomes_ready(backend, writer, task_id, state, value,
                                                      interval, ready_after):
    """A result that becomes ready while AsyncResult(id).get(interval=i)
    waits is returned within one interval of becoming ready (wall clock, plus
    the allowance for its own work), long before the timeout."""
    read = read_time(backend, task_id)
    allow = allowance(read, interval, interval)
    marks: dict = {}

    def finish():
        marks["writing_at"] = time.monotonic()
        store_ready(writer, task_id, state, value)
        marks["ready_at"] = time.monotonic()

    thread = None
    if is_async(backend):
        # it waits in its result consumer: the worker finishes from another
        # thread after about ready_after intervals
        def finish_later():
            time.sleep(ready_after * interval)
            try:
                finish()
            except BaseException as exc:  # reported below
                marks["error"] = exc

        thread = threading.Thread(target=finish_later, daemon=True)
        on_sleep = None
    else:
        # it polls: the worker finishes as it goes to sleep for the nth time
        def on_sleep(log):
            if len(log.amounts) == ready_after:
                finish()

    try:
        with counting_sleeps(on_sleep) as log:
            if thread is not None:
                thread.start()
            try:
                result, got = get(backend, task_id, READY_DEADLINE_S, interval)
            except CeleryTimeoutError:
                pytest.fail(f"get(timeout={READY_DEADLINE_S}) raised TimeoutError: the result "
                            f"that became ready while it waited was never returned",
                            pytrace=False)
            returned_at = time.monotonic()
    finally:
        if thread is not None:
            thread.join(READY_DEADLINE_S)
    assert "error" not in marks, f"the worker's write failed: {marks['error']!r}"
    assert "writing_at" in marks, "get() returned before the result was ready"
    check_ready_result(result, got, state, value)
    first = 0
    if not is_async(backend):
        first = ready_after - 1  # the sleep it went into as the result became ready
        slept_after = sum(a for a in log.amounts[first:] if a > 0)
        assert slept_after <= interval + 1e-6, (
            f"get() slept {slept_after:.3f}s after the result was ready (interval {interval})")
    after_ready = returned_at - marks["ready_at"] - log.late(first)
    assert after_ready <= interval + allow + SCHEDULING_SLACK_S, (
        f"get(interval={interval:.3f}) returned {after_ready:.3f}s after the result became "
        f"ready (late wake-ups from sleeps not counted): more than one interval plus the "
        f"allowance of {allow:.3f}s and {SCHEDULING_SLACK_S}s of scheduling slack")


# ---------------------------------------------------- PL1: wait_for, where it is
@pytest.mark.clause("PL1")
@given(task_id=plain_task_ids(), state=ready_states, value=st.integers())
def test_wait_for_with_timeout_zero_returns_a_ready_meta_without_sleeping(
        backend, task_id, state, value):
    """wait_for(id, timeout=0) on a ready id returns its meta at once: no sleep."""
    require_wait_for(backend)
    store_ready(backend, task_id, state, value)
    allow = allowance(read_time(backend, task_id), 0, 1)
    interval = long_interval(allow)
    started = time.monotonic()
    with counting_sleeps() as log:
        meta = backend.wait_for(task_id, timeout=0, interval=interval)
    elapsed = time.monotonic() - started
    assert meta["status"] == state, f"wait_for returned {meta['status']!r}, not {state!r}"
    assert not log.naps, f"wait_for(timeout=0) slept {log.naps}"
    assert elapsed <= allow + SCHEDULING_SLACK_S, (
        f"wait_for(timeout=0) (interval={interval:.2f}) took {elapsed:.3f}s (allowance "
        f"{allow:.3f}s + {SCHEDULING_SLACK_S}s slack): it waited")


@pytest.mark.clause("PL1")
@given(task_id=plain_task_ids(), state=pending_states)
def test_wait_for_with_timeout_zero_raises_timeout_without_sleeping(backend, task_id, state):
    """wait_for(id, timeout=0) on an id that is not ready raises Celery's
    TimeoutError at once: no sleep."""
    require_wait_for(backend)
    store_not_ready(backend, task_id, state)
    allow = allowance(read_time(backend, task_id), 0, 1)
    interval = long_interval(allow)
    started = time.monotonic()
    with counting_sleeps() as log:
        with pytest.raises(CeleryTimeoutError):
            backend.wait_for(task_id, timeout=0, interval=interval)
    elapsed = time.monotonic() - started
    assert not log.naps, f"wait_for(timeout=0) slept {log.naps}"
    assert elapsed <= allow + SCHEDULING_SLACK_S, (
        f"wait_for(timeout=0) (interval={interval:.2f}) took {elapsed:.3f}s (allowance "
        f"{allow:.3f}s + {SCHEDULING_SLACK_S}s slack): it waited")


@pytest.mark.clause("PL1")
@given(task_id=plain_task_ids(), state=pending_states,
       timeout=timeouts, interval=intervals)
def test_wait_for_times_out_within_timeout_plus_one_interval(backend, task_id, state, timeout,
                                                             interval):
    """wait_for(id, timeout=t, interval=i) on an id that stays unready raises
    TimeoutError having slept at most t + i in all, and within t + i of wall
    clock (plus the allowance for its own work)."""
    require_wait_for(backend)
    store_not_ready(backend, task_id, state)
    assert_times_out_in_time(
        backend, task_id, timeout, interval, "wait_for",
        lambda b, i, t, iv: b.wait_for(i, timeout=t, interval=iv), count_sleeps=True)


@pytest.mark.clause("PL1")
@given(task_id=plain_task_ids(), state=ready_states, value=st.integers(),
       ready_after=st.integers(min_value=1, max_value=3))
def test_wait_for_returns_the_meta_once_it_becomes_ready(backend, task_id, state, value,
                                                         ready_after):
    """An id that becomes ready while wait_for polls is returned with its ready
    meta within one interval of sleep, well before the timeout."""
    require_wait_for(backend)
    interval = 0.01

    def finish_on_nth_sleep(log):
        if len(log.amounts) == ready_after:
            store_ready(backend, task_id, state, value)

    with counting_sleeps(finish_on_nth_sleep) as log:
        meta = backend.wait_for(task_id, timeout=30, interval=interval)
    assert meta["status"] == state, f"wait_for returned {meta['status']!r}, not {state!r}"
    assert len(log.amounts) >= ready_after, "wait_for returned before the result was ready"
    slept_after = sum(a for a in log.amounts[ready_after - 1:] if a > 0)
    assert slept_after <= interval + 1e-6, (
        f"wait_for slept {slept_after:.3f}s after the result was ready (interval {interval})")


# ------------------------------------------------------------------- PL2
def mget_entries(backend, ids: list) -> list:
    """mget of the ids' keys as one entry per key, in key order: a list as
    returned, or a mapping's values looked up by key."""
    keys = [backend.get_key_for_task(i) for i in ids]
    values = backend.mget(keys)
    if hasattr(values, "items"):
        by_key = {backend.key_t(k): v for k, v in values.items()}
        return [by_key.get(backend.key_t(k)) for k in keys]
    entries = list(values)
    assert len(entries) == len(keys), f"mget of {len(keys)} keys gave {len(entries)} entries"
    return entries


@pytest.mark.clause("PL2")
@pytest.mark.requires("key_value")
@given(stored=st.lists(plain_task_ids(), max_size=4), missing=st.lists(plain_task_ids(),
                                                                       max_size=3),
       data=st.data())
def test_mget_returns_one_entry_per_key(backend, stored, missing, data):
    """mget(keys) returns one entry per key in key order (None for a missing
    key), or a mapping keyed by key."""
    for task_id in stored:
        backend.store_result(task_id, {"id": task_id}, states.SUCCESS)
    ids = data.draw(st.permutations(stored + missing), label="key order")
    entries = mget_entries(backend, ids)
    for task_id, entry in zip(ids, entries):
        if task_id in missing:
            assert entry is None, f"mget gave a value for the missing key of {task_id!r}"
        else:
            assert entry is not None, f"mget gave no value for the stored key of {task_id!r}"
            meta = backend.decode_result(entry)
            assert (meta["status"], meta["result"]) == (states.SUCCESS, {"id": task_id}), (
                f"mget's entry for {task_id!r} is another task's value (key order lost)")


@pytest.mark.clause("PL2")
@pytest.mark.requires("key_value")
@given(ready=st.lists(plain_task_ids(), max_size=3), unready=st.lists(plain_task_ids(),
                                                                      max_size=3),
       missing=st.lists(plain_task_ids(), max_size=2))
def test_get_many_yields_only_ready_ids(backend, ready, unready, missing):
    """get_many yields (id, meta) once for each ready id and never for an id
    that is missing or not ready."""
    for task_id in ready:
        backend.store_result(task_id, {"id": task_id}, states.SUCCESS)
    for task_id in unready:
        backend.store_result(task_id, None, states.STARTED)
    yielded = []
    try:
        for task_id, meta in backend.get_many(ready + unready + missing, timeout=0,
                                              interval=0.01):
            yielded.append((task_id, meta))
    except CeleryTimeoutError:
        assert unready or missing, "get_many timed out with every id ready"
    ids = [i.decode() if isinstance(i, bytes) else i for i, _ in yielded]
    assert sorted(ids) == sorted(ready), (
        f"get_many yielded {ids}, expected each ready id once: {ready}")
    for task_id, (_, meta) in zip(ids, yielded):
        assert meta["status"] == states.SUCCESS and meta["result"] == {"id": task_id}


#: id counts of one mget/get_many call: one past each batch and page size
MGET_COUNTS = boundaries.above("mget", at_most=1001)


def _edges(count: int) -> set:
    """Positions on both sides of every mget boundary below ``count``, and the
    last two: where a second batch begins, or a last one is dropped."""
    edges = {count - 2, count - 1}
    for b in boundaries.BOUNDARIES:
        if b.area == "mget" and b.value < count:
            edges.update((b.value - 2, b.value - 1, b.value, b.value + 1))
    return {p for p in edges if 0 <= p < count}


@pytest.mark.clause("PL2")
@pytest.mark.requires("key_value")
@pytest.mark.parametrize("count", MGET_COUNTS)
@settings(max_examples=3)
@given(data=st.data())
def test_mget_and_get_many_across_batch_boundaries(backend, count, data):
    """One mget of more keys than a batch or page holds (suite.boundaries)
    still returns one entry per key, in key order, None for each missing key;
    get_many over the same ids yields exactly the stored ones, once each."""
    stored_at = _edges(count) | data.draw(
        st.sets(st.integers(0, count - 1), max_size=20), label="more stored positions")
    ids = [f"mget-{uuid.uuid4().hex}-{n}" for n in range(count)]
    random.Random(data.draw(st.integers(0, 2 ** 32 - 1), label="order seed")).shuffle(ids)
    stored = {ids[p] for p in stored_at}
    for task_id in stored:
        backend.store_result(task_id, {"id": task_id}, states.SUCCESS)
    entries = mget_entries(backend, ids)
    for position, (task_id, entry) in enumerate(zip(ids, entries)):
        if task_id not in stored:
            assert entry is None, f"mget of {count} keys gave a value for missing key #{position}"
            continue
        assert entry is not None, (
            f"mget of {count} keys gave no value for the stored key #{position}")
        meta = backend.decode_result(entry)
        assert meta["result"] == {"id": task_id}, (
            f"mget of {count} keys: entry #{position} is another task's value (key order lost)")
    yielded = []
    with contextlib.suppress(CeleryTimeoutError):
        for task_id, meta in backend.get_many(ids, timeout=0, interval=0.01):
            yielded.append(task_id.decode() if isinstance(task_id, bytes) else task_id)
    assert sorted(yielded) == sorted(stored), (
        f"get_many over {count} ids ({len(stored)} stored) yielded {len(yielded)} ids, "
        f"{len(set(yielded))} distinct; missing: {sorted(stored - set(yielded))[:3]}")


# ------------------------------------------------------------------- PL3
plain_states = st.one_of(st.sampled_from([states.STARTED, "PROGRESS", states.SUCCESS]),
                         custom_states)


CACHE_SIZE = 100


@pytest.fixture
def uncached_reader(make_backend):
    """A second backend on the same store with the client cache off."""
    return make_backend(result_cache_max=-1)


@pytest.fixture
def cached_reader(make_backend):
    """A second backend on the same store with the client cache on (Celery's
    default result_cache_max is -1: off)."""
    return make_backend(result_cache_max=CACHE_SIZE)


@pytest.mark.clause("PL3")
@pytest.mark.requires("any_client_reads")
@given(task_id=plain_task_ids(), first=plain_states, second=plain_states)
def test_cache_off_every_read_goes_to_the_store(backend, uncached_reader, task_id, first,
                                                second):
    """With result_cache_max=-1 every get_task_meta (cache=True) reads the
    store: writes and forgets made through another backend are seen at once,
    SUCCESS included."""
    backend.store_result(task_id, {"n": 1}, first)
    assert uncached_reader.get_task_meta(task_id)["status"] == first
    backend.forget(task_id)
    assert uncached_reader.get_task_meta(task_id)["status"] == states.PENDING, (
        f"with the cache off a forgotten {first} was still returned")
    backend.store_result(task_id, {"n": 2}, second)
    meta = uncached_reader.get_task_meta(task_id)
    assert (meta["status"], meta["result"]) == (second, {"n": 2}), (
        "with the cache off a new write was not seen")


@pytest.mark.clause("PL3")
@pytest.mark.requires("any_client_reads")
@given(task_id=plain_task_ids(),
       state=st.one_of(st.sampled_from([states.STARTED, states.RETRY, "PROGRESS",
                                        states.FAILURE, states.REVOKED]), custom_states))
def test_cache_on_never_caches_a_non_success_meta(backend, cached_reader, task_id, state):
    """With caching on, a non-SUCCESS meta (ready ones included) is never
    cached: after another backend forgets the id, the reader sees PENDING."""
    if state in (states.FAILURE, states.REVOKED):
        store_ready(backend, task_id, state, 1)
    else:
        store_not_ready(backend, task_id, state)
    assert cached_reader.get_task_meta(task_id)["status"] == state
    backend.forget(task_id)
    assert cached_reader.get_task_meta(task_id)["status"] == states.PENDING, (
        f"a {state} meta was served from the client cache")


@pytest.mark.clause("PL3")
@pytest.mark.requires("any_client_reads")
@given(task_id=plain_task_ids(), value=json_values)
def test_cache_on_caches_a_success_meta(backend, cached_reader, task_id, value):
    """With caching on (result_cache_max > 0), a SUCCESS meta read with cache=True is
    cached: the reader keeps returning it although another backend forgot the
    id, and get_task_meta(id, cache=False) still reads the store."""
    backend.store_result(task_id, value, states.SUCCESS)
    first = cached_reader.get_task_meta(task_id)
    backend.forget(task_id)
    again = cached_reader.get_task_meta(task_id)
    assert again["status"] == states.SUCCESS and again["result"] == first["result"], (
        "a SUCCESS meta was not cached")
    assert read(cached_reader, task_id)["status"] == states.PENDING, (
        "cache=False did not read the store")
