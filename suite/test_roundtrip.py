"""RT: what is stored reads back exactly."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import pickle
import warnings

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from kombu.exceptions import EncodeError

from celery import states
from celery.result import AsyncResult, ResultBase

from .helpers import (as_utc, assert_meta_reflects, assert_result_matches,  # noqa: F401
                      pickle_backend, read, strictly_equal)  # pickle_backend: a fixture
from .plugin import close_backend
from .plumbing import readdress_like, real_now
from .strategies import (TIMEZONE_NAMES, any_states, extended_values, importable_exceptions,
                         json_values, json_values_with_tuples, make_request, normalized,
                         picklable_values, plain_task_ids, result_objects, writes)

#: slack allowed between the clock of the writer and date_done (stores may drop
#: sub-second precision or round it)
DATE_DONE_SLACK_S = 2.0

# A set is the canonical value kombu's json cannot encode, alone or nested.
_sets = st.sets(st.integers(-5, 5), max_size=3)
unserializable_values = st.one_of(_sets, _sets.map(lambda s: [s]),
                                  _sets.map(lambda s: {"k": s}))


def _payload_bytes(raw) -> bytes:
    return raw.tobytes() if isinstance(raw, memoryview) else bytes(raw)


# ------------------------------------------------------------------ RT1
@pytest.mark.clause("RT1")
@given(value=json_values_with_tuples, task_id=plain_task_ids())
def test_success_value_round_trips(backend, value, task_id):
    """After store_result(id, v, SUCCESS), get_task_meta(id) has SUCCESS and v
    (tuples read back as lists)."""
    backend.store_result(task_id, value, states.SUCCESS)
    meta = read(backend, task_id)
    assert meta["status"] == states.SUCCESS, f"stored SUCCESS, read {meta['status']!r}"
    assert meta["result"] == normalized(value), (
        f"stored {value!r}, read back {meta['result']!r}")


# ------------------------------------------------------------------ RT2
@pytest.mark.clause("RT2")
@given(write=st.one_of(st.none(), writes()), task_id=plain_task_ids())
def test_accessors_agree_with_meta(backend, write, task_id):
    """get_state, get_result and get_traceback agree with one get_task_meta of
    the same id (for stored and never-stored ids)."""
    if write is not None:
        state, result, tb = write
        backend.store_result(task_id, result, state, traceback=tb)
    meta = read(backend, task_id)
    assert backend.get_state(task_id) == meta["status"], "get_state disagrees with the meta"
    assert backend.get_traceback(task_id) == meta.get("traceback"), (
        "get_traceback disagrees with the meta")
    assert_result_matches(backend.get_result(task_id), meta["result"], meta["status"],
                          "get_result vs get_task_meta")


# ------------------------------------------------------------------ RT3
@pytest.mark.clause("RT3")
@given(task_id=plain_task_ids())
def test_unknown_id_reads_pending(backend, task_id):
    """An id never stored reads as PENDING with result None."""
    meta = read(backend, task_id)
    assert meta["status"] == states.PENDING
    assert meta["result"] is None
    assert backend.task_result_exists(task_id) is False


# ------------------------------------------------------------------ RT4
@pytest.mark.clause("RT4")
@given(write=writes(st.sampled_from([states.SUCCESS, states.FAILURE, states.STARTED])),
       extended=extended_values, task_id=plain_task_ids())
def test_json_payload_is_not_a_pickle(backend, backdoor, write, extended, task_id):
    """Under result_serializer=json the stored payload is JSON text, never a pickle."""
    state, result, tb = write
    if state == states.SUCCESS:
        result = [result, extended]
    backend.store_result(task_id, result, state, traceback=tb)
    raw = backdoor.raw_payload(task_id)
    assert raw is not None, "store_result stored no payload"
    payload = _payload_bytes(raw)
    assert not payload.startswith(b"\x80"), f"json backend stored a pickle: {payload[:40]!r}"
    try:
        json.loads(payload.decode("utf-8"))
    except ValueError as exc:
        pytest.fail(f"json backend stored a payload that is not JSON ({exc}): {payload[:80]!r}")


@pytest.mark.clause("RT4")
@given(value=picklable_values, task_id=plain_task_ids())
def test_pickle_serializer_round_trips_any_picklable(pickle_backend, value, task_id):
    """Under result_serializer=pickle any picklable object reads back equal and
    of the same types (sets stay sets, tuples stay tuples)."""
    backend = pickle_backend
    backend.store_result(task_id, value, states.SUCCESS)
    meta = read(backend, task_id)
    assert meta["status"] == states.SUCCESS
    assert strictly_equal(meta["result"], value), (
        f"pickle backend stored {value!r}, read back {meta['result']!r}")


@pytest.mark.clause("RT4")
@given(value=picklable_values, task_id=plain_task_ids())
def test_pickle_payload_is_a_pickle(make_backend, pickle_backend, capabilities, value, task_id):
    """Under result_serializer=pickle the stored payload is the pickle of the value."""
    backend = pickle_backend
    backdoor = make_backend.backdoor(backend)
    backend.store_result(task_id, value, states.SUCCESS)
    raw = backdoor.raw_payload(task_id)
    assert raw is not None, "store_result stored no payload"
    stored = pickle.loads(_payload_bytes(raw))
    if capabilities.key_value:  # a key-value backend stores the whole meta under the key
        assert isinstance(stored, dict) and "result" in stored, (
            f"the stored payload unpickles to {type(stored).__name__}, not the task meta")
        stored = stored["result"]
    assert strictly_equal(stored, value), (
        "the stored payload does not unpickle to the stored value")


# ------------------------------------------------------------------ RT5
@pytest.mark.clause("RT5")
@given(value=extended_values, task_id=plain_task_ids())
def test_kombu_json_extended_types_round_trip(backend, value, task_id):
    """datetime, date, UUID, Decimal and bytes read back equal and of the same
    type under json, alone and nested."""
    stored = {"alone": value, "nested": [value, {"v": value}]}
    backend.store_result(task_id, stored, states.SUCCESS)
    result = read(backend, task_id)["result"]
    assert strictly_equal(result, stored), f"stored {stored!r}, read back {result!r}"


@pytest.mark.clause("RT5")
@given(previous=st.one_of(st.none(), writes(st.sampled_from(
           [states.STARTED, states.RETRY, states.FAILURE, "PROGRESS"]))),
       state=any_states, value=unserializable_values, task_id=plain_task_ids())
def test_unserializable_result_raises_encode_error_and_keeps_state(
        backend, previous, state, value, task_id):
    """store_result of a value json cannot encode (a set) raises EncodeError and
    leaves the previously stored state (or its absence) unchanged."""
    if previous is not None:
        backend.store_result(task_id, previous[1], previous[0], traceback=previous[2])
    with pytest.raises(EncodeError):
        backend.store_result(task_id, value, state)
    meta = read(backend, task_id)
    if previous is None:
        assert meta["status"] == states.PENDING, (
            f"a failed first write left state {meta['status']!r}")
        assert backend.task_result_exists(task_id) is False, (
            "a failed first write left a record behind")
    else:
        assert_meta_reflects(meta, *previous, what="after a failed write")


# ------------------------------------------------------------------ RT6
@pytest.mark.clause("RT6")
@given(data=st.data(), state=st.sampled_from([states.SUCCESS, states.FAILURE]),
       task_id=plain_task_ids())
def test_children_come_back_as_equal_result_objects(backend, data, state, task_id):
    """children of the request (AsyncResult/GroupResult, nested, with parents)
    come back from AsyncResult(id).children as equal result objects. Checked
    for ready results: Celery's AsyncResult turns the stored children into
    objects only once the result is ready."""
    children = data.draw(st.lists(result_objects(backend), min_size=1, max_size=4),
                         label="children")
    result = ValueError("failed") if state == states.FAILURE else "done"
    request = make_request(id=task_id, children=children)
    backend.store_result(task_id, result, state, request=request)
    got = AsyncResult(task_id, backend=backend, app=backend.app).children
    assert got is not None, "children were not stored"
    assert all(isinstance(c, ResultBase) for c in got), f"children are not result objects: {got!r}"
    # as_tuple() holds the whole structure: kinds, ids, parents, nested results
    assert [c.as_tuple() for c in got] == [c.as_tuple() for c in children], (
        f"children changed: {got!r} vs {children!r}")
    assert got == children


# ------------------------------------------------------------------ RT7
@pytest.mark.clause("RT7")
@given(value=json_values, task_id=plain_task_ids())
def test_store_result_returns_encoded_value(backend, value, task_id):
    """store_result returns the encoded result; a JSON value is returned as is."""
    returned = backend.store_result(task_id, value, states.SUCCESS)
    assert returned == value, f"store_result returned {returned!r} for {value!r}"


@pytest.mark.clause("RT7")
@given(exc=importable_exceptions,
       state=st.sampled_from([states.FAILURE, states.RETRY, states.REVOKED]),
       task_id=plain_task_ids())
def test_store_result_returns_encoded_exception(backend, exc, state, task_id):
    """For an exception under json, store_result returns the dict with exc_type,
    exc_message (the args) and exc_module."""
    returned = backend.store_result(task_id, exc, state)
    assert isinstance(returned, dict), f"store_result returned {returned!r}, not a dict"
    expected = {"exc_type": type(exc).__qualname__, "exc_module": type(exc).__module__,
                "exc_message": list(exc.args)}
    got = {k: returned.get(k) for k in expected}
    if isinstance(got["exc_message"], tuple):
        got["exc_message"] = list(got["exc_message"])
    assert got == expected, f"store_result returned {returned!r} for {exc!r}"


# ------------------------------------------------------------------ RT8
@pytest.mark.clause("RT8")
@given(write=writes(), task_id=plain_task_ids())
def test_date_done_set_for_ready_states_only(backend, write, task_id):
    """date_done is within a few seconds of the write for SUCCESS, FAILURE and
    REVOKED, and None for every other state."""
    state, result, tb = write
    before = real_now()
    backend.store_result(task_id, result, state, traceback=tb)
    after = real_now()
    done = read(backend, task_id).get("date_done")
    if state in states.READY_STATES:
        assert done is not None, f"date_done missing for ready state {state}"
        done = as_utc(done)
        assert (before.timestamp() - DATE_DONE_SLACK_S <= done.timestamp()
                <= after.timestamp() + DATE_DONE_SLACK_S), (
            f"date_done {done.isoformat()} is not near the write "
            f"({before.isoformat()} .. {after.isoformat()})")
    else:
        assert done is None, f"date_done {done!r} set for non-ready state {state!r}"


@pytest.mark.clause("RT8")
@given(zone=st.sampled_from(TIMEZONE_NAMES), utc=st.booleans(),
       state=st.sampled_from(sorted(states.READY_STATES)), task_id=plain_task_ids())
def test_date_done_is_the_instant_of_the_write_in_every_timezone(make_backend, zone, utc,
                                                                 state, task_id):
    """Under every app timezone and enable_utc setting, date_done is within a
    few seconds of the write: an aware value (or an ISO string with an offset)
    as the instant it names, a naive one as UTC (with enable_utc off: as UTC or
    as the app timezone's local time)."""
    from zoneinfo import ZoneInfo

    backend = make_backend(timezone=zone, enable_utc=utc)
    result = RuntimeError("failed") if state in states.EXCEPTION_STATES else "done"
    before = real_now()
    backend.store_result(task_id, result, state)
    after = real_now()
    done = read(backend, task_id).get("date_done")
    assert done is not None, f"date_done missing for ready state {state}"
    if isinstance(done, str):
        done = dt.datetime.fromisoformat(done)
    readings = [done] if done.tzinfo is not None else [done.replace(tzinfo=dt.timezone.utc)]
    if done.tzinfo is None and not utc:
        readings.append(done.replace(tzinfo=ZoneInfo(zone)))
    near = [r for r in readings if before.timestamp() - DATE_DONE_SLACK_S <= r.timestamp()
            <= after.timestamp() + DATE_DONE_SLACK_S]
    assert near, (f"with timezone={zone!r}, enable_utc={utc}, date_done {done.isoformat()} is "
                  f"not the instant of the write ({before.isoformat()} .. {after.isoformat()})")


# ------------------------------------------------------------------ RT9
@pytest.fixture
def backends_by_extended(make_backend):
    return {flag: make_backend(result_extended=flag) for flag in (False, True)}


@pytest.mark.clause("RT9")
@given(group_id=st.none() | plain_task_ids(), parent_id=st.none() | plain_task_ids(),
       extended=st.booleans(), task_id=plain_task_ids())
@example(group_id=None, parent_id=None, extended=False, task_id="rt9-no-group-or-parent")
def test_group_and_parent_ids_readable_from_meta(backends_by_extended, group_id, parent_id,
                                                 extended, task_id):
    """group_id and parent_id of the request are readable from the meta,
    with and without result_extended; a request without them reads None
    (never a stand-in such as "None"). Celery 5.7's database backend has no
    columns for them and drops both."""
    backend = backends_by_extended[extended]
    request = make_request(id=task_id, group=group_id, parent_id=parent_id)
    backend.store_result(task_id, "v", states.SUCCESS, request=request)
    meta = read(backend, task_id)
    assert meta.get("group_id") == group_id, (
        f"request.group {group_id!r} not readable: meta has {meta.get('group_id')!r}")
    assert meta.get("parent_id") == parent_id, (
        f"request.parent_id {parent_id!r} not readable: meta has {meta.get('parent_id')!r}")


# ------------------------------------------------------------------ RT10
@pytest.fixture
def backend_with_unsupported_compression(make_backend, capabilities):
    """A backend configured with result_compression it does not support,
    and the warnings its construction gave."""
    if capabilities.supports_compression:
        pytest.skip("not run: backend declares supports_compression (RT10 concerns "
                    "backends that do not)")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        backend = make_backend(result_compression="zlib")
    return backend, caught


@pytest.mark.clause("RT10")
def test_unsupported_compression_warns(backend_with_unsupported_compression):
    """result_compression on a backend that cannot store compressed payloads
    gives a warning about it."""
    _, caught = backend_with_unsupported_compression
    messages = [str(w.message) for w in caught]
    assert any("compress" in m.lower() for m in messages), (
        f"no warning about result_compression; warnings given: {messages}")


@pytest.mark.clause("RT10")
@given(value=json_values, task_id=plain_task_ids())
def test_unsupported_compression_values_round_trip(backend_with_unsupported_compression,
                                                   value, task_id):
    """With unsupported result_compression configured, values still round-trip."""
    backend, _ = backend_with_unsupported_compression
    backend.store_result(task_id, value, states.SUCCESS)
    meta = read(backend, task_id)
    assert meta["status"] == states.SUCCESS
    assert meta["result"] == normalized(value)


# ------------------------------------------------------------------ RT11
@contextlib.contextmanager
def _current_app(app):
    """Make ``app`` Celery's current app for the block, as it is in a worker."""
    from celery import _state

    previous = _state.get_current_app()
    _state._set_current_app(app)
    try:
        yield
    finally:
        _state._set_current_app(previous)


def _unpickled(backend, request, app=None):
    """pickle.loads(pickle.dumps(backend)), unpickled with ``app`` current if given."""
    data = pickle.dumps(backend)
    with _current_app(app) if app is not None else contextlib.nullcontext():
        copy = pickle.loads(data)
    readdress_like(copy, backend)
    request.addfinalizer(lambda: close_backend(copy))
    return copy


@pytest.fixture
def unpickled_backend(backend, make_backend, request):
    """A copy of ``backend`` made by pickling; unpickled as Celery does by
    default (Celery's unpickle_backend binds the copy to current_app). Where
    the harness keeps tests apart through app settings (a key prefix on a
    shared store), the copy is unpickled with that app current, as in a
    worker: the settings are the app's, not the backend's to carry."""
    return _unpickled(backend, request,
                      app=backend.app if make_backend.namespace.settings else None)


@pytest.mark.clause("RT11")
@given(write=writes(), task_id=plain_task_ids())
def test_unpickled_backend_reads_same_results(backend, unpickled_backend, write, task_id):
    """A copy made by pickle.loads(pickle.dumps(backend)) reads what the
    original wrote, and the original reads what the copy wrote."""
    state, result, tb = write
    backend.store_result(task_id, result, state, traceback=tb)
    assert_meta_reflects(read(unpickled_backend, task_id), state, result, tb,
                         what="unpickled copy reading the original's write")
    other_id = task_id + "-copy"
    unpickled_backend.store_result(other_id, result, state, traceback=tb)
    assert_meta_reflects(read(backend, other_id), state, result, tb,
                         what="original reading the copy's write")


@pytest.fixture
def unpickled_pickle_backend(pickle_backend, request):
    return _unpickled(pickle_backend, request, app=pickle_backend.app)


@pytest.mark.clause("RT11")
@given(value=picklable_values, task_id=plain_task_ids())
def test_unpickled_pickle_backend_reads_same_results(pickle_backend, unpickled_pickle_backend,
                                                     value, task_id):
    """A backend using result_serializer=pickle, unpickled where its app is the
    current app (as in a worker), reads the same results. Celery's
    unpickle_backend takes the app, hence the serializer, from current_app."""
    pickle_backend.store_result(task_id, value, states.SUCCESS)
    meta = read(unpickled_pickle_backend, task_id)
    assert meta["status"] == states.SUCCESS
    assert strictly_equal(meta["result"], value), (
        f"unpickled copy read {meta['result']!r}, the original wrote {value!r}")
