"""XP: expiry and cleanup, checked through the real write path at a controlled clock.

Results are written with ``store_result`` / ``save_group`` while the process
clock is moved (time_machine) to a chosen instant, then ``cleanup()`` runs at a
later instant. This controls every timestamp a backend computes client-side. Where the
client's clock does not decide expiry (``server_clock``, or ``expiry_clock=
'server'``: a TTL the store counts down, file modification times) the
clock-travel tests do not run and their real-time variants do: a small
``result_expires``, a real wait, then the same checks. Whatever the clock,
cleanup() must keep young results in every timezone, checked in real time.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from celery import states
from celery.result import AsyncResult, GroupResult

from .plugin import close_backend
from .plumbing import (clock_at, clone_backend, keeps_groups, real_now, require_client_clock,
                       require_server_expiry_clock, run_parallel)
from .strategies import TIMEZONE_NAMES, custom_states, non_success_states, plain_task_ids
from .helpers import read

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

TIMEZONES = st.sampled_from(TIMEZONE_NAMES)


#: result_expires (seconds) of the real-time checks: a result written just
#: before cleanup() is still young on a loaded machine, and the wait is short
REAL_TIME_EXPIRES = 3
#: seconds past expiry (and past the declared granularity) a real-time check waits
REAL_TIME_PAST_S = 1.5
#: (timezone, enable_utc) pairs the real-time checks run in, all at once
ZONE_SETTINGS = [(zone, utc) for zone in TIMEZONE_NAMES for utc in (True, False)]


def _wait_past_expiry(capabilities, since: float) -> float:
    """Sleep until REAL_TIME_EXPIRES + granularity + REAL_TIME_PAST_S after
    ``since`` (a time.monotonic() reading); returns the age reached."""
    age = REAL_TIME_EXPIRES + capabilities.expiry_granularity_s + REAL_TIME_PAST_S
    time.sleep(max(0.0, since + age - time.monotonic()))
    return age


def _result_for(state: str, label: str):
    if state in states.EXCEPTION_STATES:
        return RuntimeError(label)
    return {"label": label}


def _store(backend, task_id: str, state: str, label: str) -> None:
    backend.store_result(task_id, _result_for(state, label), state)


def _status(backend, task_id: str) -> str:
    return read(backend, task_id)["status"]


def _group_ids(backend, group_id: str):
    group = backend.restore_group(group_id, cache=False)
    return None if group is None else [r.id for r in group.results]


def _save_group(backend, group_id: str, child_id: str) -> None:
    """Save a one-child group, where the backend keeps groups (stores_groups)."""
    if not keeps_groups(backend):
        return
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
    _assert_young_kept_old_gone(
        backend, (young_id, young_gid, young_state, f"{expires - MARGIN_S}s ago"),
        (old_id, old_gid, old_state, f"{expires + MARGIN_S}s ago"),
        f"result_expires={expires}s")


def _assert_young_kept_old_gone(backend, young, old, setting: str) -> None:
    """``young`` and ``old`` are (task id, group id, state, when written):
    after cleanup() the young result and group read back, the old ones not."""
    young_id, young_gid, young_state, young_when = young
    old_id, old_gid, old_state, old_when = old
    assert _status(backend, young_id) == young_state, (
        f"cleanup() with {setting} deleted a {young_state} result written {young_when}")
    assert not keeps_groups(backend) or _group_ids(backend, young_gid) == [young_id], (
        f"cleanup() with {setting} deleted a group saved {young_when}")
    assert _status(backend, old_id) == states.PENDING, (
        f"neither cleanup() nor the store removed a {old_state} result written {old_when} "
        f"with {setting} (it still reads {_status(backend, old_id)})")
    assert not keeps_groups(backend) or _group_ids(backend, old_gid) is None, (
        f"neither cleanup() nor the store removed a group saved {old_when} with {setting}")


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


#: (result_expires, result_chord_expires) of the chord checks, seconds
CHORD_EXPIRIES = st.sampled_from([(60, 3600), (3600, 86400)])


def _header_result_cleaned_up(backend, state: str, age: float) -> str:
    """The id of a chord header's result (its request names the chord)
    written ``age`` seconds ago, after a cleanup() now."""
    from celery.app.task import Context

    now, task_id = real_now(), str(uuid.uuid4())
    request = Context(id=task_id, group=str(uuid.uuid4()),
                      chord={"task": "body", "args": [], "kwargs": {}, "options": {}})
    with clock_at(now - dt.timedelta(seconds=age)):
        backend.store_result(task_id, _result_for(state, "header"), state, request=request)
    with clock_at(now):
        backend.cleanup()
    return task_id


@pytest.mark.clause("CH4")
@given(expiries=CHORD_EXPIRIES, state=READY)
def test_a_pending_chords_header_results_survive_cleanup_past_result_expires(
        make_backend, capabilities, expiries, state):
    """A result written by a chord's header task (its request names the
    chord) is kept by cleanup() for max(result_chord_expires, E), not E: one
    written E + 30 s ago still reads back. (test_end_to_end runs the chord.)"""
    require_client_clock(capabilities)
    expires, chord_expires = expiries
    backend = make_backend(result_expires=expires, result_chord_expires=chord_expires)
    task_id = _header_result_cleaned_up(backend, state, expires + MARGIN_S)
    assert _status(backend, task_id) == state, (
        f"cleanup() with result_expires={expires}s, result_chord_expires={chord_expires}s "
        f"deleted a chord's header result written {expires + MARGIN_S}s ago: the chord "
        f"waiting on it would never complete")


@pytest.mark.clause("XP1")
@given(expiries=CHORD_EXPIRIES, state=READY)
def test_a_chords_header_results_expire_once_their_longer_keep_has_passed(
        make_backend, capabilities, expiries, state):
    """CH4 only delays expiry: a chord header's result written more than
    max(result_chord_expires, E) ago is a ready result finished more than E
    ago like any other, and cleanup() deletes it (XP1)."""
    require_client_clock(capabilities)
    expires, chord_expires = expiries
    backend = make_backend(result_expires=expires, result_chord_expires=chord_expires)
    age = max(expires, chord_expires) + MARGIN_S
    task_id = _header_result_cleaned_up(backend, state, age)
    assert _status(backend, task_id) == states.PENDING, (
        f"cleanup() with result_expires={expires}s, result_chord_expires={chord_expires}s "
        f"kept a chord's header result written {age}s ago, past both")


#: young results written among the expired ones
YOUNG_AMONG = 3


@pytest.mark.clause("XP1")
@pytest.mark.requires("cleanup_batch")
@settings(max_examples=1)
@given(expires=EXPIRIES, old_state=READY, data=st.data())
def test_cleanup_removes_every_expired_result_past_a_batch(
        make_backend, capabilities, expires, old_state, data):
    """One cleanup() of a backend that deletes in batches (cleanup_batch)
    removes every one of a batch and one more expired results and groups, and
    keeps the young ones written among them."""
    require_client_clock(capabilities)
    count = capabilities.cleanup_batch + 1
    backend = make_backend(result_expires=expires, fresh=True)
    now, old_at, young_at = _instants(expires)
    young_after = set(data.draw(st.lists(st.integers(0, count - 1), min_size=YOUNG_AMONG,
                                         max_size=YOUNG_AMONG), label="young after"))
    old, young = [], []
    for n in range(count):
        task_id = f"old-{n}-{uuid.uuid4().hex}"
        with clock_at(old_at):
            _store(backend, task_id, old_state, "old")
            _save_group(backend, "g" + task_id, task_id)
        old.append(task_id)
        if n in young_after:
            young.append(f"young-{n}-{uuid.uuid4().hex}")
            with clock_at(young_at):
                _store(backend, young[-1], states.SUCCESS, "young")
                _save_group(backend, "g" + young[-1], young[-1])
    with clock_at(now):
        backend.cleanup()
    left = [i for i in old if _status(backend, i) != states.PENDING]
    assert not left, (f"cleanup() with result_expires={expires}s left {len(left)} of {count} "
                      f"expired results (e.g. {left[0]!r})")
    if keeps_groups(backend):
        left = [i for i in old if _group_ids(backend, "g" + i) is not None]
        assert not left, f"cleanup() left {len(left)} of {count} expired groups"
    for task_id in young:
        assert _status(backend, task_id) == states.SUCCESS, (
            f"cleanup() of {count} expired results also deleted a young one")
        assert not keeps_groups(backend) or _group_ids(backend, "g" + task_id) == [task_id], (
            f"cleanup() of {count} expired groups also deleted a young one")


def _assert_real_time_boundary(capabilities, backends: dict, old_state: str, what) -> None:
    """For each backend: write an old result and group, wait past expiry in
    real time, write a young result and group, run cleanup(), and check that
    exactly the old ones are gone. One wait serves every backend."""
    written = {}
    since = time.monotonic()
    for key, backend in backends.items():
        old_id, old_gid = str(uuid.uuid4()), str(uuid.uuid4())
        _store(backend, old_id, old_state, "old")
        _save_group(backend, old_gid, old_id)
        written[key] = (old_id, old_gid)
    age = _wait_past_expiry(capabilities, since)
    for key, backend in backends.items():
        old_id, old_gid = written[key]
        young_id, young_gid = str(uuid.uuid4()), str(uuid.uuid4())
        _store(backend, young_id, states.SUCCESS, "young")
        _save_group(backend, young_gid, young_id)
        backend.cleanup()
        _assert_young_kept_old_gone(
            backend, (young_id, young_gid, states.SUCCESS, "a moment ago"),
            (old_id, old_gid, old_state, f"{age:.1f}s ago"),
            f"result_expires={REAL_TIME_EXPIRES}s{what(key)}")


@pytest.mark.clause("XP1")
@pytest.mark.parametrize("old_state", [states.SUCCESS, states.FAILURE])
def test_cleanup_boundary_holds_in_real_time(make_backend, capabilities, old_state):
    """The XP1 boundary in real time, for backends whose store measures expiry
    itself: a result and a group written more than E ago are gone after
    cleanup() (or the store's own expiry), and ones written just now are kept."""
    require_server_expiry_clock(capabilities)
    backend = make_backend(result_expires=REAL_TIME_EXPIRES)
    _assert_real_time_boundary(capabilities, {"": backend}, old_state, lambda key: "")


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


@pytest.mark.clause("XP2")
@pytest.mark.parametrize("expires", [60, 3600])
def test_cleanup_keeps_young_results_in_real_time_in_every_timezone(make_backend, expires):
    """In real time, whatever clock the backend expires by: cleanup() run right
    after results are written (and after a result is rewritten) keeps every one
    of them, in every app timezone and enable_utc setting. A cleanup() that
    reads the app's wall clock as UTC deletes fresh results in zones west (or
    east) of UTC; moving the client's clock cannot show that on a store that
    stamps its own times."""
    written_states = [states.STARTED, states.RETRY, states.SUCCESS, states.FAILURE,
                      states.REVOKED, "PROGRESS"]
    zones = {}
    for zone, utc in ZONE_SETTINGS:
        backend = make_backend(result_expires=expires, timezone=zone, enable_utc=utc)
        ids = {str(uuid.uuid4()): state for state in written_states}
        rewritten = str(uuid.uuid4())
        _store(backend, rewritten, states.STARTED, "first write")
        ids[rewritten] = states.SUCCESS
        for task_id, state in ids.items():
            _store(backend, task_id, state, "young")
        group_id = str(uuid.uuid4())
        _save_group(backend, group_id, rewritten)
        zones[(zone, utc)] = (backend, ids, group_id, rewritten)
    for (zone, utc), (backend, ids, group_id, rewritten) in zones.items():
        backend.cleanup()
        for task_id, state in ids.items():
            got = _status(backend, task_id)
            assert got == state, (
                f"cleanup() with result_expires={expires}s, timezone={zone!r}, "
                f"enable_utc={utc} removed or changed a {state} result written a moment "
                f"ago: it reads {got}")
        assert not keeps_groups(backend) or _group_ids(backend, group_id) == [rewritten], (
            f"cleanup() with result_expires={expires}s, timezone={zone!r}, enable_utc={utc} "
            f"deleted a group saved a moment ago")


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
    if not capabilities.client_clock_expiry:
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
    assert not keeps_groups(backend) or _group_ids(backend, group_id) == [task_id], (
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


@pytest.mark.clause("XP4")
def test_cleanup_boundary_holds_in_real_time_in_every_timezone(make_backend, capabilities):
    """XP4 in real time, for backends whose store measures expiry itself: the
    XP1 boundary holds for every app timezone and enable_utc setting."""
    require_server_expiry_clock(capabilities)
    backends = {(zone, utc): make_backend(result_expires=REAL_TIME_EXPIRES, timezone=zone,
                                          enable_utc=utc)
                for zone, utc in ZONE_SETTINGS}
    _assert_real_time_boundary(capabilities, backends, states.SUCCESS,
                               lambda key: f", timezone={key[0]!r}, enable_utc={key[1]}")


# ------------------------------------------------------------------ XP5
@pytest.mark.clause("XP5")
def test_results_expire(make_backend, capabilities):
    """Results expire: cleanup() removes a ready result older than E, or the
    store expires it by itself. A backend that declares neither cleanup nor
    native expiry is reported as "never expires"."""
    state, task_id = states.SUCCESS, str(uuid.uuid4())
    if capabilities.native_expiry:
        backend = make_backend(result_expires=1)
        _store(backend, task_id, state, "expiring")
        time.sleep(1 + capabilities.expiry_granularity_s + 0.5)
        how = (f"waiting 1s + the declared granularity {capabilities.expiry_granularity_s}s "
               f"with result_expires=1s")
    elif capabilities.cleanup and not capabilities.client_clock_expiry:
        backend = make_backend(result_expires=1)
        _store(backend, task_id, state, "expiring")
        time.sleep(2.5 + capabilities.expiry_granularity_s)
        backend.cleanup()
        how = "cleanup() run 2.5s after the write with result_expires=1s"
    elif capabilities.cleanup:
        expires = 3600
        backend = make_backend(result_expires=expires)
        now, old_at, _ = _instants(expires)
        with clock_at(old_at):
            _store(backend, task_id, state, "expiring")
        with clock_at(now):
            backend.cleanup()
        how = f"cleanup() run {expires + MARGIN_S}s after the write with result_expires={expires}s"
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
    fresh = str(uuid.uuid4())
    with clock_at(old_at):
        _store(backend, once, state, "stale")
        _store(backend, twice, state, "last write")
    with clock_at(now):
        _store(backend, fresh, state, "fresh")
        backend.cleanup()
    _assert_stale_gone_fresh_kept(backend, state, first, once, twice, fresh,
                                  f"result_expires={expires}s", expires + MARGIN_S)


def _assert_stale_gone_fresh_kept(backend, state, first, once, twice, fresh, setting, age):
    got = _status(backend, fresh)
    assert got == state, (
        f"cleanup() with {setting} removed a {state} result written a moment ago "
        f"(it reads {got}): XP6 removes only results whose last write is older than E")
    for task_id, what in ((once, "written once"), (twice, f"written as {first}, then")):
        got = _status(backend, task_id)
        assert got == states.PENDING, (
            f"cleanup() with {setting} kept a result {what} {state} "
            f"{age:.1f}s ago: it still reads {got}")


#: (last state, first state) pairs of the real-time XP6 check, all in one wait
STALE_PAIRS = [(states.STARTED, states.RETRY), (states.RETRY, "PROGRESS"),
               ("PROGRESS", states.STARTED), ("CONFORMANCE-CUSTOM", states.STARTED)]


@pytest.mark.clause("XP6")
def test_cleanup_removes_stale_non_ready_results_in_real_time(make_backend, capabilities):
    """XP6 in real time, for backends whose store measures expiry itself:
    results left in a non-ready state (STARTED, RETRY, custom) whose last
    write is older than E are gone after cleanup() (or the store's own
    expiry); fresh ones are kept."""
    require_server_expiry_clock(capabilities)
    backend = make_backend(result_expires=REAL_TIME_EXPIRES)
    stale = []
    since = time.monotonic()
    for state, first in STALE_PAIRS:
        once, twice = str(uuid.uuid4()), str(uuid.uuid4())
        _store(backend, twice, first, "first write")
        _store(backend, once, state, "stale")
        _store(backend, twice, state, "last write")
        stale.append((state, first, once, twice))
    age = _wait_past_expiry(capabilities, since)
    fresh = {state: str(uuid.uuid4()) for state, _ in STALE_PAIRS}
    for state, task_id in fresh.items():
        _store(backend, task_id, state, "fresh")
    backend.cleanup()
    for state, first, once, twice in stale:
        _assert_stale_gone_fresh_kept(backend, state, first, once, twice, fresh[state],
                                      f"result_expires={REAL_TIME_EXPIRES}s", age)


# ------------------------------------------------------------------ XP7
@pytest.mark.clause("XP7")
@given(expires=st.sampled_from([300, 86400]), writes=st.lists(WRITTEN_STATES, min_size=1,
                                                                  max_size=3))
def test_cleanup_is_safe_concurrently_with_itself_and_writes(
        make_backend, capabilities, expires, writes):
    """cleanup() running in several threads at once, while other threads store
    results, raises nothing, and no result younger than E disappears. Where
    the client's clock decides expiry, expired results are planted first so
    that the cleaners have work; elsewhere it runs in real time."""
    travel = capabilities.client_clock_expiry
    backend = make_backend(result_expires=expires)
    now, old_at, young_at = _instants(expires)
    if travel:
        with clock_at(old_at):  # expired results, so that the cleaners have work
            for i in range(2):
                _store(backend, str(uuid.uuid4()), states.SUCCESS, f"expired {i}")
    young = {str(uuid.uuid4()): s for s in writes}
    with clock_at(young_at) if travel else contextlib.nullcontext():
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
        with clock_at(now) if travel else contextlib.nullcontext():
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


#: rounds of the race between cleanup() and re-writes of the results it is
#: deleting, and the expired results re-written in each
REWRITE_RACE_ROUNDS = 6
REWRITE_RACE_IDS = 40


@pytest.mark.clause("XP7")
def test_cleanup_racing_rewrites_of_the_results_it_deletes_keeps_them(make_backend,
                                                                     capabilities):
    """cleanup() racing store_result on the very results it is deleting
    (expired failures, written again as successes by two clients in opposite
    orders) raises nothing on either side (a lock conflict of the store is
    waited out or retried), and every result written again, now young, is
    there with its new value once the race ends and cleanup() has run once
    more: a re-write acknowledged while cleanup() ran is never deleted. Round
    after round, with fresh expired results."""
    require_client_clock(capabilities)
    expires = 3600
    backend = make_backend(result_expires=expires)
    now, old_at, _ = _instants(expires)
    clients = [clone_backend(backend) for _ in range(4)]     # 2 cleaners, 2 writers
    try:
        for round_ in range(REWRITE_RACE_ROUNDS):
            planted = [str(uuid.uuid4()) for _ in range(REWRITE_RACE_IDS)]
            with clock_at(old_at):
                for task_id in planted:   # a success is final: it is not written over
                    _store(backend, task_id, states.FAILURE, "expired")
            value = {"rewritten": round_}

            def make_worker(index):
                own = clients[index]
                if index < 2:
                    return lambda r: [own.cleanup() for _ in range(3)]
                order = planted if index == 2 else planted[::-1]
                return lambda r: [own.store_result(t, value, states.SUCCESS) for t in order]

            with clock_at(now):
                errors = run_parallel(make_worker, len(clients), 1, "threads")
            assert not errors, (f"round {round_}: cleanup() racing store_result on the "
                                f"expired results it deletes raised:\n"
                                + "\n".join(map(str, errors)))
            with clock_at(now):
                backend.cleanup()        # once more, with nothing racing it
            lost = [t for t in planted if read(backend, t)["result"] != value]
            assert not lost, (
                f"round {round_}: {len(lost)} of {len(planted)} expired results written "
                f"again while cleanup() ran do not read back their new value (first: "
                f"{lost[0]} reads {read(backend, lost[0])['status']})")
    finally:
        for client in clients:
            close_backend(client)


# ------------------------------------------------------------------ XP8
@pytest.mark.clause("XP8")
@pytest.mark.requires("native_expiry")
def test_native_expiry_without_cleanup(make_backend, capabilities):
    """Where the backend declares native expiry, a result written with expiry E
    reads as PENDING after E plus the store's declared TTL granularity, with no
    cleanup() call. Runs in real time (E = 2 s: at 1 s an expiry instant
    computed as now * E instead of now + E would pass unseen)."""
    expires, state, task_id = 2, states.SUCCESS, str(uuid.uuid4())
    backend = make_backend(result_expires=expires)
    _store(backend, task_id, state, "expiring")
    wait = expires + capabilities.expiry_granularity_s + 0.25
    time.sleep(wait)
    got = _status(backend, task_id)
    assert got == states.PENDING, (
        f"a {state} result written with result_expires={expires}s still reads {got} "
        f"{wait}s later (declared granularity {capabilities.expiry_granularity_s}s)")
