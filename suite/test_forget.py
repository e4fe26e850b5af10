"""FG: forget removes a result, and only that result."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from celery import states
from celery.result import AsyncResult

from .strategies import any_states, custom_states, json_values, normalized, plain_task_ids
from .helpers import read

#: states whose stored value reads back as plain data (no exception decoding)
plain_value_states = st.one_of(
    st.sampled_from([states.STARTED, states.SUCCESS, "PROGRESS"]), custom_states)


def _assert_forgotten(backend, backdoor, task_id, what="forget(id)"):
    meta = read(backend, task_id)
    assert meta["status"] == states.PENDING, f"after {what} the state is {meta['status']!r}"
    assert meta["result"] is None, f"after {what} the result is still {meta['result']!r}"
    assert not backdoor.record_exists(task_id), f"after {what} the store still holds a record"


@pytest.mark.clause("FG1")
@given(task_id=plain_task_ids(), state=any_states, value=json_values)
def test_forget_leaves_pending_and_no_record(backend, backdoor, task_id, state, value):
    """After forget(id) the meta is PENDING with result None and the store holds
    no record for id, whatever state was stored."""
    backend.store_result(task_id, value, state)
    assert backdoor.record_exists(task_id), "store_result wrote no record"
    backend.forget(task_id)
    _assert_forgotten(backend, backdoor, task_id)


@pytest.mark.clause("FG1")
@pytest.mark.requires("any_client_reads")
@given(task_id=plain_task_ids(), state=plain_value_states, value=json_values,
       again=json_values)
def test_another_client_reads_pending_after_forget_and_then_the_next_write(
        make_backend, backdoor, task_id, state, value, again):
    """Another client of the same store that read a result before it was
    forgotten reads it as PENDING after forget(id), and the store holds no
    record; a later write of the same id reads back as that write, for both."""
    writer, reader = make_backend(), make_backend()
    writer.store_result(task_id, value, state)
    assert read(reader, task_id)["status"] == state, "the other client does not read the write"
    writer.forget(task_id)
    _assert_forgotten(reader, backdoor, task_id, what="forget(id) by another client")
    writer.store_result(task_id, again, states.SUCCESS)
    for who, client in (("the other client", reader), ("the client that forgot", writer)):
        meta = read(client, task_id)
        assert (meta["status"], meta["result"]) == (states.SUCCESS, normalized(again)), (
            f"after forget and a new write, {who} reads {meta['status']!r} {meta['result']!r}")


@pytest.mark.clause("FG2")
@given(task_id=plain_task_ids())
def test_forget_unknown_or_forgotten_id_does_not_raise(backend, task_id):
    """forget of an id never stored, and a second forget of the same id, do not
    raise, and the id still reads as PENDING."""
    backend.forget(task_id)
    backend.store_result(task_id, 1, states.SUCCESS)
    backend.forget(task_id)
    backend.forget(task_id)
    assert read(backend, task_id)["status"] == states.PENDING


@pytest.mark.clause("FG3")
@given(chain_ids=st.lists(plain_task_ids(), min_size=1, max_size=5))
def test_async_result_forget_forgets_every_parent(backend, backdoor, chain_ids):
    """AsyncResult.forget() forgets the result and every parent in its chain."""
    result = None
    for task_id in chain_ids:
        backend.store_result(task_id, task_id, states.SUCCESS)
        result = AsyncResult(task_id, parent=result, backend=backend, app=backend.app)
    result.forget()
    for position, task_id in enumerate(chain_ids):
        _assert_forgotten(backend, backdoor, task_id,
                          what=f"AsyncResult.forget() (link {position} of {len(chain_ids)})")


@pytest.mark.clause("FG4")
@given(task_id=plain_task_ids(), state=plain_value_states,
       neighbours=st.lists(plain_task_ids(), max_size=3))
def test_forget_changes_no_other_record(backend, backdoor, task_id, state, neighbours):
    """forget(id) leaves every other id's record as it was, including ids that
    extend or shorten id (a prefix or LIKE match must not reach them)."""
    others = neighbours + [task_id + "x", task_id[:-1], "x" + task_id]
    for other in others:
        backend.store_result(other, {"id": other}, state)
    backend.store_result(task_id, {"id": task_id}, state)
    before = {o: (read(backend, o), backdoor.raw_payload(o)) for o in others}
    backend.forget(task_id)
    assert not backdoor.record_exists(task_id), "the forgotten record is still stored"
    for other in others:
        after = (read(backend, other), backdoor.raw_payload(other))
        assert after == before[other], f"forget({task_id!r}) changed the record of {other!r}"


@pytest.fixture
def caching_backend(make_backend):
    """The backend with the client cache on (Celery's default result_cache_max
    is -1: off)."""
    return make_backend(result_cache_max=100)


@pytest.mark.clause("FG5")
@given(task_id=plain_task_ids(), value=json_values)
def test_forget_clears_the_cached_success(caching_backend, task_id, value):
    """With the client cache on, a SUCCESS read with cache=True is not returned
    after forget(id): get_task_meta(id, cache=True) then reads PENDING."""
    backend = caching_backend
    backend.store_result(task_id, value, states.SUCCESS)
    assert backend.get_task_meta(task_id)["status"] == states.SUCCESS
    assert backend.is_cached(task_id), (
        "precondition: a SUCCESS read with the cache on is cached (PL3)")
    backend.forget(task_id)
    meta = backend.get_task_meta(task_id)
    assert meta["status"] == states.PENDING, "forget(id) left the SUCCESS in the client cache"
    assert meta["result"] is None


@pytest.mark.clause("FG5")
@given(value=json_values)
def test_async_result_forget_clears_the_cached_success(caching_backend, value):
    """AsyncResult.forget() clears the cached SUCCESS of the result itself and
    of its backend: its state is PENDING afterwards."""
    backend = caching_backend
    task_id = str(uuid.uuid4())
    backend.store_result(task_id, value, states.SUCCESS)
    result = AsyncResult(task_id, backend=backend, app=backend.app)
    assert result.state == states.SUCCESS
    result.forget()
    assert result.state == states.PENDING, "AsyncResult.forget() left the SUCCESS cached"
