"""XP: expiry and cleanup, checked through the real write path at a controlled clock.

Results are written with ``store_result`` / ``save_group`` while the process
clock is moved (time_machine) to a chosen instant, then ``cleanup()`` runs at a
later instant. This controls every timestamp a backend computes client-side; a
backend whose store stamps times with its own clock declares ``server_clock``
and the clock-travel tests do not run for it.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from celery import states
from celery.result import AsyncResult, GroupResult

from .plugin import close_backend
from .plumbing import clock_at, clone_backend, real_now, require_client_clock, run_parallel
from .strategies import custom_states, non_success_states, plain_task_ids

#: expiry periods (seconds) the tests draw from
EXPIRIES = st.sampled_from([60, 3600, 86400, 7 * 86400])

#: how far (seconds) from the expiry boundary the "old" and "young" writes are:
#: far larger than clock noise, a test's own run time, or a store dropping
#: sub-second precision
MARGIN_S = 30

READY = st.sampled_from(sorted(states.READY_STATES))
#: every state a result can be written with, except PENDING (reads the same as "gone")
WRITTEN_STATES = st.one_of(
    st.sampled_from([states.STARTED, states.RETRY, states.SUCCESS, states.FAILURE,
                     states.REVOKED, "PROGRESS"]),
    custom_states)

#: app timezones for XP4: both signs, half and three-quarter hours, the extremes
TIMEZONES = st.sampled_from(["UTC", "America/New_York", "Asia/Kolkata", "Pacific/Chatham",
                             "Etc/GMT+12", "Etc/GMT-14"])


def _result_for(state: str, label: str):
    if state in states.EXCEPTION_STATES:
        return RuntimeError(label)
    return {"label": label}


def _store(backend, task_id: str, state: str, label: str) -> None:
    backend.store_result(task_id, _result_for(state, label), state)


def _status(backend, task_id: str) -> str:
    return backend.get_task_meta(task_id, cache=False)["status"]


def _group_ids(backend, group_id: str):
    group = backend.restore_group(group_id, cache=False)
    return None if group is None else [r.id for r in group.results]


def _save_group(backend, group_id: str, child_id: str) -> None:
    backend.save_group(group_id, GroupResult(group_id, [AsyncResult(child_id, app=backend.app)],
                                             app=backend.app))


def _instants(expires: int):
    """(now, old, young): 'old' is MARGIN_S past the expiry boundary, 'young'
    MARGIN_S short of it, both seen from 'now'."""
    now = real_now()
    return (now, now - dt.timedelta(seconds=expires + MARGIN_S),
            now - dt.timedelta(seconds=expires - MARGIN_S))


def _assert_boundary(backend, expires: int, old_state: str, young_state: str) -> None:
    """Write one old and one young result and group, run cleanup(), and check
    that exactly the old ones are gone."""
    now, old_at, young_at = _instants(expires)
    old_id, young_id = str(uuid.uuid4()), str(uuid.uuid4())
    old_gid, young_gid = str(uuid.uuid4()), str(uuid.uuid4())
    with clock_at(old_at):
        _store(backend, old_id, old_state, "old")
        _save_group(backend, old_gid, old_id)
    with clock_at(young_at):
        _store(backend, young_id, young_state, "young")
        _save_group(backend, young_gid, young_id)
    with clock_at(now):
        backend.cleanup()
    assert _status(backend, young_id) == young_state, (
        f"cleanup() deleted a {young_state} result written {expires - MARGIN_S}s ago "
        f"with result_expires={expires}s")
    assert _group_ids(backend, young_gid) == [young_id], (
        f"cleanup() deleted a group saved {expires - MARGIN_S}s ago with "
        f"result_expires={expires}s")
    assert _status(backend, old_id) == states.PENDING, (
        f"cleanup() kept a {old_state} result finished {expires + MARGIN_S}s ago with "
        f"result_expires={expires}s (it still reads {_status(backend, old_id)})")
    assert _group_ids(backend, old_gid) is None, (
        f"cleanup() kept a group saved {expires + MARGIN_S}s ago with "
        f"result_expires={expires}s")


# ------------------------------------------------------------------ XP1
@pytest.mark.clause("XP1")
@given(expires=EXPIRIES, old_state=READY, young_state=READY)
def test_cleanup_deletes_expired_ready_results_and_groups_only(
        make_backend, capabilities, expires, old_state, young_state):
    """With E > 0, cleanup() deletes ready results and groups finished more than
    E ago and keeps those finished less than E ago."""
    require_client_clock(capabilities)
    backend = make_backend(result_expires=expires)
    _assert_boundary(backend, expires, old_state, young_state)


# ------------------------------------------------------------------ XP2
@pytest.mark.clause("XP2")
@given(expires=EXPIRIES, state=WRITTEN_STATES, first=WRITTEN_STATES.filter(
    lambda s: s != states.SUCCESS))
def test_cleanup_keeps_every_result_written_less_than_expiry_ago(
        make_backend, capabilities, expires, state, first):
    """cleanup() never deletes a result written less than E ago, whatever its
    state: neither one written just now, nor one written E - margin ago, nor one
    first written long ago whose last write is recent."""
    require_client_clock(capabilities)
    backend = make_backend(result_expires=expires)
    now, _, young_at = _instants(expires)
    just_now, young, rewritten = (str(uuid.uuid4()) for _ in range(3))
    with clock_at(now - dt.timedelta(seconds=3 * expires)):
        _store(backend, rewritten, first, "first write, long ago")
    with clock_at(young_at):
        _store(backend, young, state, "young")
        _store(backend, rewritten, state, "last write, recent")
    with clock_at(now):
        _store(backend, just_now, state, "now")
        backend.cleanup()
    for task_id, what in ((just_now, "written just now"),
                          (young, f"written {expires - MARGIN_S}s ago"),
                          (rewritten, f"last written {expires - MARGIN_S}s ago "
                                      f"(first written {3 * expires}s ago as {first})")):
        got = _status(backend, task_id)
        assert got == state, (
            f"cleanup() with result_expires={expires}s removed or changed a {state} result "
            f"{what}: it reads {got}")


# ------------------------------------------------------------------ XP3
@pytest.mark.clause("XP3")
@pytest.mark.parametrize("disabled", [0, None], ids=["expires=0", "expires=None"])
@given(state=WRITTEN_STATES, task_id=plain_task_ids())
def test_cleanup_with_expiry_disabled_deletes_nothing(
        make_backend, capabilities, disabled, state, task_id):
    """With result_expires 0 or None (Celery documents both as "never expire"),
    cleanup() deletes nothing, not even results written long ago, and does not
    raise. Celery 5.7's database backend turns 0 into timedelta(0) (deleting
    every ready result) and fails on None (``now - None``)."""
    backend = make_backend(result_expires=disabled)
    group_id = str(uuid.uuid4())
    long_ago = real_now() - dt.timedelta(days=30)
    if capabilities.server_clock:
        _store(backend, task_id, state, "written")
        _save_group(backend, group_id, task_id)
    else:
        with clock_at(long_ago):
            _store(backend, task_id, state, "written 30 days ago")
            _save_group(backend, group_id, task_id)
    try:
        backend.cleanup()
    except Exception as exc:
        pytest.fail(f"cleanup() with result_expires={disabled!r} raised "
                    f"{type(exc).__name__}: {exc}")
    assert _status(backend, task_id) == state, (
        f"cleanup() with result_expires={disabled!r} (never expire) deleted a {state} result")
    assert _group_ids(backend, group_id) == [task_id], (
        f"cleanup() with result_expires={disabled!r} (never expire) deleted a group")


# ------------------------------------------------------------------ XP4
@pytest.mark.clause("XP4")
@given(timezone=TIMEZONES, enable_utc=st.booleans(), expires=EXPIRIES,
       old_state=READY, young_state=READY)
def test_cleanup_boundary_holds_in_every_timezone(
        make_backend, capabilities, timezone, enable_utc, expires, old_state, young_state):
    """XP1 holds for every app timezone and enable_utc setting: expiry is
    measured in elapsed time, not in wall-clock readings of some zone. Celery
    5.7's database backend stores app.now() (in the app timezone) into a naive
    DateTime column and compares it with UTC now in cleanup(); stores that keep
    the wall-clock reading (SQLite, MySQL) shift expiry by the zone's offset."""
    require_client_clock(capabilities)
    backend = make_backend(result_expires=expires, timezone=timezone, enable_utc=enable_utc)
    _assert_boundary(backend, expires, old_state, young_state)


# ------------------------------------------------------------------ XP5
@pytest.mark.clause("XP5")
def test_results_expire(make_backend, capabilities):
    """Results expire: cleanup() removes a ready result older than E, or the
    store expires it by itself. A backend that declares neither cleanup nor
    native expiry is reported as "never expires"."""
    state, task_id = states.SUCCESS, str(uuid.uuid4())
    if capabilities.cleanup:
        if capabilities.server_clock:
            backend = make_backend(result_expires=1)
            _store(backend, task_id, state, "expiring")
            time.sleep(2.5)
            backend.cleanup()
            how = "cleanup() run 2.5s after the write with result_expires=1s"
        else:
            expires = 3600
            backend = make_backend(result_expires=expires)
            now, old_at, _ = _instants(expires)
            with clock_at(old_at):
                _store(backend, task_id, state, "expiring")
            with clock_at(now):
                backend.cleanup()
            how = f"cleanup() run {expires + MARGIN_S}s after the write with result_expires={expires}s"
    elif capabilities.native_expiry:
        backend = make_backend(result_expires=1)
        _store(backend, task_id, state, "expiring")
        time.sleep(1 + capabilities.expiry_granularity_s + 0.5)
        how = (f"waiting 1s + the declared granularity {capabilities.expiry_granularity_s}s "
               f"with result_expires=1s")
    else:
        pytest.fail("never expires: the backend declares neither cleanup nor native_expiry")
    got = _status(backend, task_id)
    assert got == states.PENDING, f"never expires: a {state} result still reads {got} after {how}"


# ------------------------------------------------------------------ XP6
@pytest.mark.clause("XP6")
@given(expires=EXPIRIES, state=non_success_states, first=non_success_states)
def test_cleanup_removes_stale_non_ready_results(
        make_backend, capabilities, expires, state, first):
    """cleanup() also removes results left in a non-ready state (STARTED, RETRY,
    custom) whose last write is older than E. Celery 5.7's database backend
    stores date_done=NULL for non-ready states and cleanup() only deletes rows
    with date_done older than E, so such rows stay forever."""
    require_client_clock(capabilities)
    backend = make_backend(result_expires=expires)
    now, old_at, _ = _instants(expires)
    once, twice = str(uuid.uuid4()), str(uuid.uuid4())
    with clock_at(now - dt.timedelta(seconds=3 * expires)):
        _store(backend, twice, first, "first write")
    with clock_at(old_at):
        _store(backend, once, state, "stale")
        _store(backend, twice, state, "last write")
    with clock_at(now):
        backend.cleanup()
    for task_id, what in ((once, "written once"), (twice, f"written as {first}, then")):
        got = _status(backend, task_id)
        assert got == states.PENDING, (
            f"cleanup() with result_expires={expires}s kept a result {what} {state} "
            f"{expires + MARGIN_S}s ago: it still reads {got}")


# ------------------------------------------------------------------ XP7
@pytest.mark.clause("XP7")
@given(expires=st.sampled_from([300, 86400]), writes=st.lists(WRITTEN_STATES, min_size=1,
                                                                  max_size=3))
def test_cleanup_is_safe_concurrently_with_itself_and_writes(
        make_backend, capabilities, expires, writes):
    """cleanup() running in several threads at once, while other threads store
    results, raises nothing, and no result younger than E disappears."""
    require_client_clock(capabilities)
    backend = make_backend(result_expires=expires)
    now, old_at, young_at = _instants(expires)
    with clock_at(old_at):  # expired results, so that the cleaners have work
        for i in range(2):
            _store(backend, str(uuid.uuid4()), states.SUCCESS, f"expired {i}")
    young = {str(uuid.uuid4()): s for s in writes}
    with clock_at(young_at):
        for task_id, s in young.items():
            _store(backend, task_id, s, "young")

    n_cleaners, n_writers, rounds = 2, 2, 2
    fresh = {(w, r, i): (str(uuid.uuid4()), s) for w in range(n_writers)
             for r in range(rounds) for i, s in enumerate(writes)}
    clones = []

    def make_worker(index):
        own = clone_backend(backend)
        clones.append(own)
        if index < n_cleaners:
            return lambda r: own.cleanup()
        w = index - n_cleaners

        def write(r):
            for i, _ in enumerate(writes):
                task_id, s = fresh[(w, r, i)]
                _store(own, task_id, s, "fresh")
        return write

    try:
        with clock_at(now):
            errors = run_parallel(make_worker, n_cleaners + n_writers, rounds, "threads")
    finally:
        for c in clones:
            close_backend(c)
    assert not errors, ("cleanup() concurrent with itself and store_result raised:\n"
                        + "\n".join(map(str, errors)))
    for task_id, s in list(young.items()) + list(fresh.values()):
        got = _status(backend, task_id)
        assert got == s, (
            f"a {s} result younger than result_expires={expires}s reads {got} after "
            f"concurrent cleanup() calls")


# ------------------------------------------------------------------ XP8
@pytest.mark.clause("XP8")
@pytest.mark.requires("native_expiry")
def test_native_expiry_without_cleanup(make_backend, capabilities):
    """Where the backend declares native expiry, a result written with expiry E
    reads as PENDING after E plus the store's declared TTL granularity, with no
    cleanup() call. Runs in real time (E = 1 s)."""
    expires, state, task_id = 1, states.SUCCESS, str(uuid.uuid4())
    backend = make_backend(result_expires=expires)
    _store(backend, task_id, state, "expiring")
    wait = expires + capabilities.expiry_granularity_s + 0.25
    time.sleep(wait)
    got = _status(backend, task_id)
    assert got == states.PENDING, (
        f"a {state} result written with result_expires={expires}s still reads {got} "
        f"{wait}s later (declared granularity {capabilities.expiry_granularity_s}s)")
