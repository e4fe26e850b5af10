"""ST: states are stored and replaced by Celery's rules."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from celery import states
from celery.exceptions import TaskRevokedError

from .helpers import assert_meta_reflects, assert_result_matches, read, same_exception
from .strategies import (BUILTIN_STATES, ID_ALPHABET, any_states, custom_states_unicode,
                         importable_exceptions, json_values, make_request, normalized,
                         plain_task_ids, result_for_state, tracebacks, writes)

#: states a non-SUCCESS write sequence draws from (ST2)
non_success_write_states = st.one_of(
    st.sampled_from([states.PENDING, states.STARTED, states.RETRY, states.FAILURE,
                     states.REVOKED, "PROGRESS"]),
    custom_states_unicode)


def _write(backend, task_id, write):
    state, result, tb = write
    backend.store_result(task_id, result, state, traceback=tb)


# ------------------------------------------------------------------ ST1
@pytest.mark.clause("ST1")
@given(state=st.one_of(st.sampled_from(BUILTIN_STATES), custom_states_unicode),
       data=st.data(), task_id=plain_task_ids())
def test_every_state_reads_back_exactly(backend, state, data, task_id):
    """Every built-in state and any custom state string of up to 50 characters
    reads back exactly, with its result."""
    result = data.draw(result_for_state(state), label="result")
    backend.store_result(task_id, result, state)
    meta = read(backend, task_id)
    assert meta["status"] == state, f"stored state {state!r}, read back {meta['status']!r}"
    assert_result_matches(meta["result"], result, state)


# ------------------------------------------------------------------ ST2
@pytest.mark.clause("ST2")
@given(sequence=st.lists(writes(non_success_write_states), min_size=1, max_size=5),
       task_id=plain_task_ids())
def test_non_success_writes_replace_each_other(backend, capabilities, sequence, task_id):
    """Any sequence of non-SUCCESS writes to one id succeeds and the meta
    reflects the last write (a write after a state the backend declares sticky
    is expected to leave that state, see ST4)."""
    current = None
    for step, write in enumerate(sequence, 1):
        _write(backend, task_id, write)
        if current is None or current[0] not in capabilities.sticky_states:
            current = write
        assert_meta_reflects(read(backend, task_id), *current,
                             what=f"after write {step} of {len(sequence)}")


# ------------------------------------------------------------------ ST3
@pytest.mark.clause("ST3")
@given(value=json_values, later=st.lists(writes(any_states), min_size=1, max_size=4),
       task_id=plain_task_ids())
def test_success_is_final(backend, value, later, task_id):
    """Once SUCCESS is stored, later store_result calls of any state and value
    (SUCCESS included) do not raise and leave status and result as they were."""
    backend.store_result(task_id, value, states.SUCCESS)
    for state, result, tb in later:
        backend.store_result(task_id, result, state, traceback=tb)
        meta = read(backend, task_id)
        assert meta["status"] == states.SUCCESS, (
            f"a later {state!r} write replaced SUCCESS with {meta['status']!r}")
        assert meta["result"] == normalized(value), (
            f"a later {state!r} write replaced the SUCCESS result {value!r} "
            f"with {meta['result']!r}")


# ------------------------------------------------------------------ ST4
@pytest.mark.clause("ST4")
@given(first=writes(st.sampled_from([states.FAILURE, states.REVOKED])),
       later=writes(any_states), task_id=plain_task_ids())
def test_failure_and_revoked_are_replaced_by_later_writes(backend, capabilities, first,
                                                          later, task_id):
    """FAILURE and REVOKED are not sticky: a later write replaces them, unless
    the backend declares that state in its sticky_states capability, in which
    case the later write must leave it unchanged."""
    _write(backend, task_id, first)
    _write(backend, task_id, later)
    meta = read(backend, task_id)
    if first[0] in capabilities.sticky_states:
        assert_meta_reflects(meta, *first, what=f"declared-sticky {first[0]} after a later write")
    else:
        assert_meta_reflects(meta, *later, what=f"a write after {first[0]}")


# ------------------------------------------------------------------ ST5
@pytest.mark.clause("ST5")
@given(value=json_values, exc=importable_exceptions, tb=st.one_of(st.none(), tracebacks),
       done_id=plain_task_ids(), failed_id=plain_task_ids())
def test_ignore_result_skips_success_but_not_failure(backend, value, exc, tb, done_id,
                                                     failed_id):
    """mark_as_done with request.ignore_result stores nothing; mark_as_failure
    stores FAILURE even for such a request."""
    backend.mark_as_done(done_id, value, request=make_request(id=done_id, ignore_result=True))
    assert backend.task_result_exists(done_id) is False, (
        "mark_as_done stored a result for a request with ignore_result")
    assert read(backend, done_id)["status"] == states.PENDING

    backend.mark_as_failure(failed_id, exc, traceback=tb,
                            request=make_request(id=failed_id, ignore_result=True))
    assert_meta_reflects(read(backend, failed_id), states.FAILURE, exc, tb,
                         what="mark_as_failure with ignore_result")


# ------------------------------------------------------------------ ST6
@pytest.mark.clause("ST6")
@given(pid=st.integers(0, 2 ** 31 - 1), hostname=st.text(alphabet=ID_ALPHABET, max_size=60),
       task_id=plain_task_ids())
def test_mark_as_started_stores_pid_and_hostname(backend, pid, hostname, task_id):
    """mark_as_started(id, pid=p, hostname=h) gives STARTED with result
    {'pid': p, 'hostname': h}."""
    backend.mark_as_started(task_id, pid=pid, hostname=hostname)
    meta = read(backend, task_id)
    assert meta["status"] == states.STARTED
    assert meta["result"] == {"pid": pid, "hostname": hostname}, (
        f"mark_as_started result read back as {meta['result']!r}")


# ------------------------------------------------------------------ ST7
@pytest.mark.clause("ST7")
@given(reason=st.text(alphabet=ID_ALPHABET, max_size=80), task_id=plain_task_ids())
def test_mark_as_revoked_stores_task_revoked_error(backend, reason, task_id):
    """mark_as_revoked(id, why) gives REVOKED with TaskRevokedError(why)."""
    backend.mark_as_revoked(task_id, reason)
    meta = read(backend, task_id)
    assert meta["status"] == states.REVOKED
    assert same_exception(meta["result"], TaskRevokedError(reason)), (
        f"mark_as_revoked({reason!r}) read back {meta['result']!r}")


# ------------------------------------------------------------------ ST8
@pytest.mark.clause("ST8")
@given(exc=importable_exceptions, tb=st.one_of(st.none(), tracebacks),
       task_id=plain_task_ids())
def test_mark_as_retry_stores_the_exception(backend, exc, tb, task_id):
    """mark_as_retry(id, exc) gives RETRY with an exception of the same type and args."""
    backend.mark_as_retry(task_id, exc, traceback=tb)
    assert_meta_reflects(read(backend, task_id), states.RETRY, exc, tb, what="mark_as_retry")


# ------------------------------------------------------------------ ST9
@pytest.mark.clause("ST9")
@given(write=writes(any_states), task_id=plain_task_ids())
def test_result_exists_after_store_and_not_after_forget(backend, write, task_id):
    """task_result_exists(id) is True after any store (PENDING included) and
    False after forget(id)."""
    _write(backend, task_id, write)
    assert backend.task_result_exists(task_id) is True, (
        f"task_result_exists is not True after storing state {write[0]!r}")
    backend.forget(task_id)
    assert backend.task_result_exists(task_id) is False, (
        "task_result_exists is not False after forget")
