"""XT: extended results (result_extended) store the request's fields."""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from celery import states

from . import boundaries
from .strategies import (json_values, make_request, normalized, requests_extended, stamp_sets,
                         writes)
from .helpers import read

EXTENDED_FIELDS = ("name", "args", "kwargs", "worker", "retries", "queue")

#: names a stamp must not take in these tests: they are the meta's own keys
META_KEYS = frozenset(EXTENDED_FIELDS) | {
    "task_id", "status", "result", "traceback", "children", "date_done", "group_id",
    "parent_id", "stamped_headers", "stamps"}

#: states written with a plain (non-exception) value
written_states = st.sampled_from([states.STARTED, "PROGRESS", states.SUCCESS])


def expected_fields(request) -> dict:
    """The extended fields a request should leave in the meta."""
    return {
        "name": request.task,
        "args": normalized(request.args),
        "kwargs": normalized(request.kwargs),
        "worker": request.hostname,
        "retries": request.retries,
        "queue": request.delivery_info["routing_key"],
    }


def extended_fields(meta) -> dict:
    return {f: meta.get(f) for f in EXTENDED_FIELDS}


@pytest.fixture
def extended_backend(make_backend):
    return make_backend(result_extended=True)


@pytest.fixture
def plain_backend(make_backend):
    return make_backend(result_extended=False)


@pytest.mark.clause("XT1")
@given(task_request=requests_extended, value=json_values, state=written_states)
def test_extended_meta_holds_the_request_fields(extended_backend, task_request, value, state):
    """With result_extended=True the meta holds name, args, kwargs, worker,
    retries and queue equal to the request's."""
    extended_backend.store_result(task_request.id, value, state, request=task_request)
    meta = read(extended_backend, task_request.id)
    assert meta["status"] == state
    assert extended_fields(meta) == expected_fields(task_request), (
        "extended fields read back differ from the request's")


#: the states a retried task passes through before it ends (non-ready, then ready)
retry_states = st.sampled_from([states.STARTED, states.RETRY, "PROGRESS"])


@pytest.mark.clause("XT1")
@given(task_request=requests_extended,
       steps=st.lists(st.tuples(writes(retry_states), st.integers(0, 50),
                                st.text(alphabet="abcxyz@-.", min_size=1, max_size=20)),
                      min_size=2, max_size=6),
       last=st.sampled_from([states.SUCCESS, states.FAILURE, None]))
def test_extended_fields_follow_every_write_of_a_retried_task(extended_backend, task_request,
                                                              steps, last):
    """A task written several times (it starts, retries on another worker and
    queue, and ends): after each write the extended fields equal that write's
    request, not the first one's."""
    for n, ((state, value, tb), retries, worker) in enumerate(steps, 1):
        task_request.retries, task_request.hostname = retries, worker
        task_request.delivery_info = {"routing_key": f"q{n}-{worker}"}
        extended_backend.store_result(task_request.id, value, state, traceback=tb,
                                      request=task_request)
        meta = read(extended_backend, task_request.id)
        assert extended_fields(meta) == expected_fields(task_request), (
            f"after write {n} of {len(steps)} ({state}) the extended fields are "
            f"{extended_fields(meta)!r}")
    if last is not None:
        task_request.retries += 1
        result = RuntimeError("ended") if last == states.FAILURE else "done"
        extended_backend.store_result(task_request.id, result, last, request=task_request)
        meta = read(extended_backend, task_request.id)
        assert extended_fields(meta) == expected_fields(task_request), (
            f"after the final {last} write the extended fields are {extended_fields(meta)!r}")


#: sizes (bytes) of one argument: one past each payload column limit below 1 MiB
LONG_ARGUMENT_BYTES = boundaries.above("payload", at_most=boundaries.MIB // 2)


@pytest.mark.clause("XT1")
@pytest.mark.parametrize("size", LONG_ARGUMENT_BYTES)
@settings(max_examples=2)
@given(task_request=requests_extended, value=json_values, in_kwargs=st.booleans())
def test_arguments_as_large_as_a_column_limit_are_stored(extended_backend, size, task_request,
                                                         value, in_kwargs):
    """Arguments as large as results: an argument just past a payload column's
    limit (suite.boundaries; the record far below the 1 MiB every store holds)
    is stored, and args and kwargs read back equal to the request's."""
    big = "a" * size
    if in_kwargs:
        task_request.kwargs = dict(task_request.kwargs, big=big)
    else:
        task_request.args = list(task_request.args) + [big]
    extended_backend.store_result(task_request.id, value, states.SUCCESS, request=task_request)
    meta = read(extended_backend, task_request.id)
    assert extended_fields(meta) == expected_fields(task_request), (
        f"a {size}-byte {'keyword ' if in_kwargs else ''}argument did not read back")


@pytest.mark.clause("XT2")
@given(task_request=requests_extended, value=json_values, state=written_states)
def test_plain_meta_holds_no_request_fields(plain_backend, task_request, value, state):
    """With result_extended=False none of name, args, kwargs, worker, retries,
    queue is populated in the meta."""
    backend = plain_backend
    backend.store_result(task_request.id, value, state, request=task_request)
    meta = read(backend, task_request.id)
    assert meta["status"] == state
    populated = {f: v for f, v in extended_fields(meta).items() if v is not None}
    assert not populated, f"result_extended=False but the meta holds {populated!r}"


@pytest.mark.clause("XT3")
@given(first=requests_extended, second=requests_extended,
       value=json_values, later_value=json_values,
       later_state=st.sampled_from([states.STARTED, states.RETRY, "PROGRESS", states.SUCCESS]))
def test_extended_fields_survive_the_success_guard(extended_backend, first, second, value,
                                                    later_value, later_state):
    """After SUCCESS, a later write with another request leaves the extended
    fields (and status and result) as the SUCCESS write stored them."""
    extended_backend.store_result(first.id, value, states.SUCCESS, request=first)
    stored = read(extended_backend, first.id)
    second.id = first.id
    extended_backend.store_result(first.id, later_value, later_state, request=second)
    meta = read(extended_backend, first.id)
    assert extended_fields(meta) == expected_fields(first), (
        "a write after SUCCESS changed the extended fields")
    assert (meta["status"], meta["result"]) == (states.SUCCESS, stored["result"]), (
        "a write after SUCCESS changed status or result")


#: later writes after SUCCESS that carry no request, or come from a client
#: with result_extended off: (label, write(extended_backend, plain_backend, id, request))
LATER_WRITES = {
    "store_result without a request":
        lambda ext, plain, i, r: ext.store_result(i, {"later": 1}, states.STARTED),
    "store_result from a client with result_extended off":
        lambda ext, plain, i, r: plain.store_result(i, {"later": 1}, states.STARTED, request=r),
    "mark_as_started":
        lambda ext, plain, i, r: ext.mark_as_started(i, pid=1, hostname="h"),
    "mark_as_retry":
        lambda ext, plain, i, r: ext.mark_as_retry(i, RuntimeError("again")),
    "mark_as_revoked":
        lambda ext, plain, i, r: ext.mark_as_revoked(i, "late revoke"),
}


@pytest.mark.clause("XT3")
@given(first=requests_extended, second=requests_extended, value=json_values,
       later=st.sampled_from(sorted(LATER_WRITES)))
def test_extended_fields_survive_writes_without_a_request(extended_backend, plain_backend,
                                                          first, second, value, later):
    """After SUCCESS, a later write with no request, one from a client with
    result_extended off, and mark_as_started / mark_as_retry / mark_as_revoked
    leave the extended fields (and status and result) as the SUCCESS write
    stored them."""
    extended_backend.store_result(first.id, value, states.SUCCESS, request=first)
    stored = read(extended_backend, first.id)
    second.id = first.id
    LATER_WRITES[later](extended_backend, plain_backend, first.id, second)
    meta = read(extended_backend, first.id)
    assert extended_fields(meta) == expected_fields(first), (
        f"{later} after SUCCESS changed the extended fields: {extended_fields(meta)!r}")
    assert (meta["status"], meta["result"]) == (states.SUCCESS, stored["result"]), (
        f"{later} after SUCCESS changed status or result")


#: stamps whose names are not meta keys
stamps = stamp_sets.map(lambda d: {k: v for k, v in d.items() if k not in META_KEYS})


@pytest.mark.clause("XT4")
@given(stamps=stamps, data=st.data(), value=json_values, state=written_states)
def test_only_stamped_headers_are_stored(extended_backend, stamps, data, value, state):
    """Only the stamps named in request.stamped_headers are stored (readable
    from the meta under their own names), and stamped_headers round-trips."""
    assume(stamps)
    headers = data.draw(st.lists(st.sampled_from(sorted(stamps)), unique=True, min_size=1),
                        label="stamped_headers")
    task_request = make_request(stamps=stamps, stamped_headers=headers)
    extended_backend.store_result(task_request.id, value, state, request=task_request)
    meta = read(extended_backend, task_request.id)
    assert meta.get("stamped_headers") == headers, "stamped_headers did not round-trip"
    for name in headers:
        assert meta.get(name) == stamps[name], f"stamp {name!r} did not round-trip"
    for name in set(stamps) - set(headers):
        assert name not in meta, f"stamp {name!r} is not in stamped_headers but was stored"
