"""PL: polling (wait_for), bulk reads (mget/get_many) and the client cache."""

from __future__ import annotations

import contextlib
import threading
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from celery import states
from celery.exceptions import TimeoutError as CeleryTimeoutError

from .strategies import custom_states, json_values, plain_task_ids

#: wall-clock allowance for the store reads themselves. Timing asserts use it
#: only as a loose bound; exact sleep accounting comes from counting sleeps.
READ_OVERHEAD_S = 5.0

#: an interval so long that one sleep of it could not go unnoticed
LONG_INTERVAL_S = 2 * READ_OVERHEAD_S


class SleepLog:
    """The time.sleep calls made by the test's own thread."""

    def __init__(self, on_sleep=None) -> None:
        self.amounts: list[float] = []
        self.on_sleep = on_sleep

    @property
    def naps(self) -> list[float]:
        return [a for a in self.amounts if a > 0]


@contextlib.contextmanager
def counting_sleeps(on_sleep=None):
    """Record (and still perform) every time.sleep of the calling thread;
    ``on_sleep(log)`` runs before each one."""
    log = SleepLog(on_sleep)
    real_sleep = time.sleep
    me = threading.get_ident()

    def sleep(amount):
        if threading.get_ident() == me:
            log.amounts.append(amount)
            if log.on_sleep is not None:
                log.on_sleep(log)
        return real_sleep(amount)

    time.sleep = sleep
    try:
        yield log
    finally:
        time.sleep = real_sleep


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


# ------------------------------------------------------------------- PL1
@pytest.mark.clause("PL1")
@given(task_id=plain_task_ids(), state=ready_states, value=st.integers())
def test_wait_for_with_timeout_zero_returns_a_ready_meta_without_sleeping(
        backend, task_id, state, value):
    """wait_for(id, timeout=0) on a ready id returns its meta at once: no sleep."""
    store_ready(backend, task_id, state, value)
    started = time.monotonic()
    with counting_sleeps() as log:
        meta = backend.wait_for(task_id, timeout=0, interval=LONG_INTERVAL_S)
    elapsed = time.monotonic() - started
    assert meta["status"] == state, f"wait_for returned {meta['status']!r}, not {state!r}"
    assert not log.naps, f"wait_for(timeout=0) slept {log.naps}"
    assert elapsed < READ_OVERHEAD_S, f"wait_for(timeout=0) took {elapsed:.1f}s"


@pytest.mark.clause("PL1")
@given(task_id=plain_task_ids(), state=pending_states)
def test_wait_for_with_timeout_zero_raises_timeout_without_sleeping(backend, task_id, state):
    """wait_for(id, timeout=0) on an id that is not ready raises Celery's
    TimeoutError at once: no sleep."""
    store_not_ready(backend, task_id, state)
    started = time.monotonic()
    with counting_sleeps() as log:
        with pytest.raises(CeleryTimeoutError):
            backend.wait_for(task_id, timeout=0, interval=LONG_INTERVAL_S)
    elapsed = time.monotonic() - started
    assert not log.naps, f"wait_for(timeout=0) slept {log.naps}"
    assert elapsed < READ_OVERHEAD_S, f"wait_for(timeout=0) took {elapsed:.1f}s"


@pytest.mark.clause("PL1")
@given(task_id=plain_task_ids(), state=pending_states,
       timeout=st.floats(min_value=0.01, max_value=0.3),
       interval=st.floats(min_value=0.01, max_value=0.3))
def test_wait_for_times_out_within_timeout_plus_one_interval(backend, task_id, state, timeout,
                                                             interval):
    """wait_for(id, timeout=t, interval=i) on an id that stays unready raises
    TimeoutError having slept at most t + i in all."""
    store_not_ready(backend, task_id, state)
    started = time.monotonic()
    with counting_sleeps() as log:
        with pytest.raises(CeleryTimeoutError):
            backend.wait_for(task_id, timeout=timeout, interval=interval)
    elapsed = time.monotonic() - started
    slept = sum(log.naps)
    assert slept <= timeout + interval + 1e-6, (
        f"wait_for(timeout={timeout}, interval={interval}) slept {slept:.3f}s in {log.naps}")
    assert elapsed < timeout + interval + READ_OVERHEAD_S, (
        f"wait_for(timeout={timeout}, interval={interval}) took {elapsed:.1f}s")


@pytest.mark.clause("PL1")
@given(task_id=plain_task_ids(), state=ready_states, value=st.integers(),
       ready_after=st.integers(min_value=1, max_value=3))
def test_wait_for_returns_the_meta_once_it_becomes_ready(backend, task_id, state, value,
                                                         ready_after):
    """An id that becomes ready while wait_for polls is returned with its ready
    meta within one interval of sleep, well before the timeout."""
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
    keys = [backend.get_key_for_task(i) for i in ids]
    values = backend.mget(keys)
    if hasattr(values, "items"):
        by_key = {backend.key_t(k): v for k, v in values.items()}
        entries = [by_key.get(backend.key_t(k)) for k in keys]
    else:
        entries = list(values)
        assert len(entries) == len(keys), f"mget of {len(keys)} keys gave {len(entries)} entries"
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
    assert cached_reader.get_task_meta(task_id, cache=False)["status"] == states.PENDING, (
        "cache=False did not read the store")
