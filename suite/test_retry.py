"""RY1–RY4: the retry policy, by injecting exactly k failures at the backend's
own store call.

The backend names the method that performs one store write
(``capabilities.retry_injection_point``) and builds example errors
(``transient_error()`` / ``permanent_error()``). The test wraps that method on
the instance to raise k times, then delegate to the real write against the real
store. Sleeps are recorded by replacing ``Backend._sleep`` on the instance
(harness plumbing: Celery's retry loop sleeps only through it).
"""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from celery import states
from celery.exceptions import BackendGetMetaError, BackendStoreError

from .plumbing import InjectedFailures, record_sleeps
from .strategies import json_values, normalized, plain_task_ids
from .helpers import read

#: the read Celery's get_task_meta wraps in its retry loop (BaseBackend API)

base_sleeps_ms = st.sampled_from([1, 10, 100, 1000])


def retry_settings(max_retries: int, base_ms: int, max_ms: int) -> dict:
    return dict(result_backend_always_retry=True,
                result_backend_max_retries=max_retries,
                result_backend_base_sleep_between_retries_ms=base_ms,
                result_backend_max_sleep_between_retries_ms=max_ms)


def backoff_bound_s(attempt: int, base_ms: int, max_ms: int) -> float:
    """Celery's bound for the sleep before retry number ``attempt`` (1-based):
    full jitter over min(max, base * 2**attempt) ms
    (celery.utils.time.get_exponential_backoff_interval)."""
    return min(max_ms, base_ms * 2 ** attempt) / 1000


# ------------------------------------------------------------------ RY1
@pytest.mark.clause("RY1")
@pytest.mark.requires("transient_error")
@given(data=st.data(), max_retries=st.integers(1, 5), base_ms=base_sleeps_ms,
       max_factor=st.sampled_from([1, 4, 1000]), value=json_values, task_id=plain_task_ids())
def test_store_succeeds_after_k_retryable_failures(make_backend, capabilities, data,
                                                   max_retries, base_ms, max_factor,
                                                   value, task_id):
    """With result_backend_always_retry and k <= result_backend_max_retries
    consecutive retryable failures, store_result succeeds after exactly k+1
    attempts, sleeping k times, each sleep within the configured backoff bound;
    the value is then stored."""
    k = data.draw(st.integers(0, max_retries), label="k")
    max_ms = base_ms * max_factor
    backend = make_backend(**retry_settings(max_retries, base_ms, max_ms))
    sleeps = record_sleeps(backend)
    faults = InjectedFailures(backend, capabilities.retry_injection_point,
                              [capabilities.transient_error() for _ in range(k)])
    try:
        backend.store_result(task_id, value, states.SUCCESS)
    finally:
        faults.restore()
    assert faults.attempts == k + 1, (
        f"{k} retryable failures with max_retries={max_retries}: expected {k + 1} attempts, "
        f"saw {faults.attempts}")
    assert len(sleeps) == k, (
        f"{k} retries should sleep {k} times through Backend._sleep; slept {sleeps}")
    for attempt, slept in enumerate(sleeps, start=1):
        bound = backoff_bound_s(attempt, base_ms, max_ms)
        assert 0 <= slept <= bound, (
            f"sleep before retry {attempt} was {slept}s, outside the backoff bound "
            f"[0, {bound}]s (base {base_ms} ms, max {max_ms} ms)")
    meta = read(backend, task_id)
    assert meta["status"] == states.SUCCESS and meta["result"] == normalized(value), (
        f"store_result returned after {k} retries but the store reads {meta['status']} "
        f"{meta['result']!r}")


# ------------------------------------------------------------------ RY2
@pytest.mark.clause("RY2")
@pytest.mark.requires("transient_error")
@given(max_retries=st.integers(0, 4), state=st.sampled_from(
    [states.SUCCESS, states.STARTED, states.FAILURE, "PROGRESS"]), task_id=plain_task_ids())
def test_store_past_max_retries_raises_backend_store_error(make_backend, capabilities,
                                                          max_retries, state, task_id):
    """Past result_backend_max_retries, store_result raises BackendStoreError
    carrying task_id and state, with the last original error as __cause__,
    after exactly max_retries + 1 attempts."""
    backend = make_backend(**retry_settings(max_retries, 1, 10))
    record_sleeps(backend)
    faults = InjectedFailures(backend, capabilities.retry_injection_point,
                              [capabilities.transient_error() for _ in range(max_retries + 1)])
    result = RuntimeError("boom") if state in states.EXCEPTION_STATES else {"v": 1}
    try:
        with pytest.raises(BackendStoreError) as caught:
            backend.store_result(task_id, result, state)
    finally:
        faults.restore()
    err = caught.value
    assert faults.attempts == max_retries + 1, (
        f"max_retries={max_retries}: expected {max_retries + 1} attempts, saw {faults.attempts}")
    assert err.task_id == task_id, f"BackendStoreError.task_id is {err.task_id!r}"
    assert err.state == state, f"BackendStoreError.state is {err.state!r}, not {state!r}"
    assert err.__cause__ is faults.errors[-1], (
        f"BackendStoreError.__cause__ is {err.__cause__!r}, not the original error")


@pytest.mark.clause("RY2")
@pytest.mark.requires("transient_error")
@given(max_retries=st.integers(0, 4), task_id=plain_task_ids())
def test_read_past_max_retries_raises_backend_get_meta_error(make_backend, capabilities,
                                                            max_retries, task_id):
    """Past result_backend_max_retries, get_task_meta raises BackendGetMetaError
    carrying task_id, with the last original error as __cause__."""
    backend = make_backend(**retry_settings(max_retries, 1, 10))
    backend.store_result(task_id, {"v": 1}, states.SUCCESS)
    record_sleeps(backend)
    faults = InjectedFailures(backend, capabilities.read_injection_point,
                              [capabilities.transient_error() for _ in range(max_retries + 1)])
    try:
        with pytest.raises(BackendGetMetaError) as caught:
            read(backend, task_id)
    finally:
        faults.restore()
    err = caught.value
    assert faults.attempts == max_retries + 1, (
        f"max_retries={max_retries}: expected {max_retries + 1} read attempts, "
        f"saw {faults.attempts}")
    assert err.task_id == task_id, f"BackendGetMetaError.task_id is {err.task_id!r}"
    assert err.__cause__ is faults.errors[-1], (
        f"BackendGetMetaError.__cause__ is {err.__cause__!r}, not the original error")


# ------------------------------------------------------------------ RY3
@pytest.mark.clause("RY3")
@pytest.mark.requires("permanent_error")
@given(operation=st.sampled_from(["store", "read"]), task_id=plain_task_ids())
def test_non_retryable_error_raised_unchanged_after_one_attempt(make_backend, capabilities,
                                                                operation, task_id):
    """A non-retryable error is raised unchanged (the same object) after one
    attempt, with no sleep, even with result_backend_always_retry on."""
    backend = make_backend(**retry_settings(5, 1, 10))
    if operation == "read":
        backend.store_result(task_id, {"v": 1}, states.SUCCESS)
    sleeps = record_sleeps(backend)
    error = capabilities.permanent_error()
    method = (capabilities.retry_injection_point if operation == "store"
              else capabilities.read_injection_point)
    faults = InjectedFailures(backend, method, [error])
    try:
        with pytest.raises(BaseException) as caught:
            if operation == "store":
                backend.store_result(task_id, {"v": 2}, states.SUCCESS)
            else:
                read(backend, task_id)
    finally:
        faults.restore()
    assert caught.value is error, (
        f"{operation}: the non-retryable {type(error).__name__} came out as "
        f"{type(caught.value).__name__}: {caught.value!r}")
    assert faults.attempts == 1, (
        f"{operation}: a non-retryable error was retried ({faults.attempts} attempts)")
    assert sleeps == [], f"{operation}: slept {sleeps} before raising a non-retryable error"


# ------------------------------------------------------------------ RY4
def every_example(factory) -> list:
    """One error of each form an example-error factory gives (each of a
    cycle's factories: see targets._Cycle), not one form per call."""
    return [make() for make in getattr(factory, "factories", (factory,))]


@pytest.mark.clause("RY4")
@pytest.mark.requires("transient_error")
def test_every_declared_transient_error_is_retried(make_backend, capabilities):
    """Each transient error the backend declares (every status and error
    number it documents as worth retrying) fails one store attempt and the
    write then succeeds on the next, with result_backend_always_retry."""
    wrong = []
    for error in every_example(capabilities.transient_error):
        backend = make_backend(**retry_settings(1, 1, 10))
        record_sleeps(backend)
        faults = InjectedFailures(backend, capabilities.retry_injection_point, [error])
        task_id = str(uuid.uuid4())
        try:
            backend.store_result(task_id, {"v": 1}, states.SUCCESS)
        except Exception as exc:
            wrong.append(f"{error!r}: not retried ({type(exc).__name__}: {exc})")
        finally:
            faults.restore()
    assert not wrong, "declared transient errors raised instead of retried:\n" + "\n".join(wrong)


@pytest.mark.clause("RY4")
@pytest.mark.requires("permanent_error")
def test_every_declared_permanent_error_is_raised_at_once(make_backend, capabilities):
    """Each permanent error the backend declares (a bad request, credentials,
    permission) is raised unchanged after one store attempt, even with
    result_backend_always_retry."""
    wrong = []
    for error in every_example(capabilities.permanent_error):
        backend = make_backend(**retry_settings(3, 1, 10))
        record_sleeps(backend)
        faults = InjectedFailures(backend, capabilities.retry_injection_point, [error])
        try:
            backend.store_result(str(uuid.uuid4()), {"v": 1}, states.SUCCESS)
            wrong.append(f"{error!r}: retried until the write succeeded")
        except BaseException as exc:
            if exc is not error or faults.attempts != 1:
                wrong.append(f"{error!r}: {faults.attempts} attempts, then "
                             f"{type(exc).__name__}: {exc}")
        finally:
            faults.restore()
    assert not wrong, "declared permanent errors not raised at once:\n" + "\n".join(wrong)
