"""CC1–CC3: concurrent writers, from threads and from forked processes.

Every worker (thread, or process forked for it) builds its own backend from
the app settings, as Celery's worker threads and processes do, and all
workers start each round at one barrier to maximise overlap. Each round uses
fresh ids.
"""

from __future__ import annotations

import contextlib
import re
import uuid

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from celery import states

from .plugin import close_backend
from .plumbing import clone_backend, run_parallel
from .strategies import json_values, non_success_states, normalized
from .helpers import read

#: ids (rounds) per example
ROUNDS = 3

#: writes each non-SUCCESS writer of CC1 makes per round: a stream of writes
#: keeps a read-then-write guard's window open while SUCCESS commits
BURST = 4

#: how a unique-key violation shows in an error's chain, on any store
UNIQUE_VIOLATION = re.compile(
    r"IntegrityError|UniqueViolation|unique constraint|UNIQUE constraint failed|"
    r"duplicate key|Duplicate entry|\b1062\b|E11000|already exists|conflict",
    re.IGNORECASE)


def _modes(capabilities):
    """Threads always; forked processes where several processes may write."""
    return st.sampled_from(["threads", "processes"] if capabilities.concurrent_processes
                           else ["threads"])


def _contention(namespace):
    """The store's contention mode for the namespace: overlapping writers meet
    the conflicts the real store reports (a no-op where they arise anyway)."""
    contention = getattr(getattr(namespace, "store", None), "contention", None)
    return contention(namespace) if contention is not None else contextlib.nullcontext()


def _run(backend, work_for, n_workers: int, mode: str, namespace) -> list:
    """Run ``work_for(own_backend, worker_index)(round)`` in n workers, under
    the store's contention mode for ``namespace``; returns errors."""
    clones = []

    def make_worker(index):
        own = clone_backend(backend)
        clones.append(own)
        return work_for(own, index)

    try:
        with _contention(namespace):
            return run_parallel(make_worker, n_workers, ROUNDS, mode, app=backend.app)
    finally:
        for c in clones:  # only the threads' backends live in this process
            close_backend(c)


def _read(backend, task_id):
    return read(backend, task_id)


# ------------------------------------------------------------------ CC1
#: the SUCCESS value of the explicit examples
_CC1_VALUE = {"answer": 42}


@pytest.mark.clause("CC1")
@given(n_others=st.integers(1, 3), state=non_success_states, value=json_values,
       processes=st.booleans(), offset=st.integers(0, 3))
# STARTED, the state a worker stores before SUCCESS
@example(n_others=3, state=states.STARTED, value=_CC1_VALUE, processes=False, offset=0)
# custom states: one that sorts after "SUCCESS", one differing from it in letter case only
@example(n_others=2, state="WAITING", value=_CC1_VALUE, processes=False, offset=1)
@example(n_others=1, state="success", value=_CC1_VALUE, processes=False, offset=1)
def test_a_concurrent_success_wins_over_any_other_state(make_backend, capabilities, n_others,
                                                        state, value, processes, offset):
    """n writers storing one non-SUCCESS state (STARTED, RETRY, PROGRESS or any
    custom state; each a stream of writes) and one storing SUCCESS on one
    fresh id, all at once and in any order, always end in SUCCESS with the
    SUCCESS value; finished results stored before, under ids that sort after
    the contended ones, are left as they were."""
    mode = "processes" if processes and capabilities.concurrent_processes else "threads"
    n_workers = n_others + 1
    offset %= n_workers             # the SUCCESS writer of the first round
    other = RuntimeError("not yet") if state in states.EXCEPTION_STATES else None
    backend = make_backend()
    ids = [str(uuid.uuid4()) for _ in range(ROUNDS)]
    # older records a write might wrongly consult or touch ("~" sorts after ids)
    bystanders = {f"~bystander-{uuid.uuid4()}": {"bystander": k} for k in range(3)}
    for task_id, kept in bystanders.items():
        backend.store_result(task_id, kept, states.SUCCESS)

    def success_writer(r):
        return (offset + r) % n_workers

    def work_for(own, index):
        def work(r):
            if index == success_writer(r):
                own.store_result(ids[r], value, states.SUCCESS)
            else:
                for _ in range(BURST):
                    own.store_result(ids[r], {"writer": index} if other is None else other,
                                     state)
        return work

    errors = _run(backend, work_for, n_workers, mode, make_backend.namespace)
    for r, task_id in enumerate(ids):
        meta = _read(backend, task_id)
        assert meta["status"] == states.SUCCESS and meta["result"] == normalized(value), (
            f"{n_others} writers of {state!r} and 1 SUCCESS writer ({mode}) on one id ended "
            f"in {meta['status']} {meta['result']!r}, not SUCCESS {value!r}. Writer errors: "
            + ("\n".join(str(e) for e in errors if e.round in (r, None)) or "none"))
    for task_id, kept in bystanders.items():
        meta = _read(backend, task_id)
        assert (meta["status"], meta["result"]) == (states.SUCCESS, kept), (
            f"a result stored before the race, under another id, changed: {meta['status']} "
            f"{meta['result']!r}")


# ------------------------------------------------------------------ CC2
@pytest.mark.clause("CC2")
@given(data=st.data(), n_workers=st.integers(2, 4), state=non_success_states)
def test_concurrent_first_writes_never_surface_unique_violation(make_backend, capabilities,
                                                                data, n_workers, state):
    """Concurrent first writes to one fresh id never surface a unique-violation
    error, and the id then reads with the written state. (Other errors are
    CC1/CC3 matters and are not judged here.)"""
    mode = data.draw(_modes(capabilities), label="mode")
    backend = make_backend()
    ids = [str(uuid.uuid4()) for _ in range(ROUNDS)]

    result = RuntimeError("first write") if state in states.EXCEPTION_STATES else {"v": 1}

    def work_for(own, index):
        return lambda r: own.store_result(ids[r], result, state)

    errors = _run(backend, work_for, n_workers, mode, make_backend.namespace)
    unique = [e for e in errors if UNIQUE_VIOLATION.search(e.text)]
    assert not unique, (f"concurrent first writes ({n_workers} {mode}) surfaced a "
                        "unique-key violation:\n" + "\n".join(map(str, unique)))
    failed_rounds = {e.round for e in errors}
    for r, task_id in enumerate(ids):
        if r in failed_rounds:
            continue
        got = _read(backend, task_id)["status"]
        assert got == state, f"after concurrent first writes of {state}, the id reads {got}"


# ------------------------------------------------------------------ CC3
@pytest.mark.clause("CC3")
@pytest.mark.requires("creates_location")
@settings(max_examples=4)           # each example makes a location: the race is its first use
@given(data=st.data(), n_workers=st.integers(2, 4))
def test_parallel_first_use_of_a_location_not_made_yet(make_backend, capabilities, data,
                                                       n_workers):
    """Parallel clients whose first use of their store location (a database,
    collection or tables the backend makes on first use) is at one moment:
    each making it while another does is no error, and every store_result
    persists and reads back. (A backend that makes it while being built is
    built with the settings that defer it: location_at_first_use.)"""
    mode = data.draw(_modes(capabilities), label="mode")
    namespace = make_backend.new_namespace(unmade=True)
    backend = make_backend(namespace=namespace, **capabilities.location_at_first_use)
    ids = {(w, r): str(uuid.uuid4()) for w in range(n_workers) for r in range(ROUNDS)}

    def work_for(own, index):
        return lambda r: own.store_result(ids[(index, r)], {"writer": index}, states.SUCCESS)

    errors = _run(backend, work_for, n_workers, mode, namespace)
    assert not errors, (f"{n_workers} clients ({mode}) making their location on first use "
                        f"at once raised:\n" + "\n".join(map(str, errors)))
    for (w, r), task_id in ids.items():
        meta = _read(backend, task_id)
        assert meta["status"] == states.SUCCESS and meta["result"] == {"writer": w}, (
            f"a write by client {w} ({mode}, first use of a new location) reads back "
            f"{meta['status']} {meta['result']!r}")


@pytest.mark.clause("CC3")
@given(data=st.data(), n_workers=st.integers(2, 4),
       values=st.lists(json_values, min_size=ROUNDS, max_size=ROUNDS))
def test_parallel_writes_to_distinct_ids_all_persist(make_backend, capabilities, data,
                                                     n_workers, values):
    """store_result on distinct ids from parallel threads or forked processes
    raises nothing, and every id reads back its own value."""
    mode = data.draw(_modes(capabilities), label="mode")
    backend = make_backend()
    ids = {(w, r): str(uuid.uuid4()) for w in range(n_workers) for r in range(ROUNDS)}

    def expected(w, r):
        return {"writer": w, "round": r, "value": values[r]}

    def work_for(own, index):
        return lambda r: own.store_result(ids[(index, r)], expected(index, r), states.SUCCESS)

    errors = _run(backend, work_for, n_workers, mode, make_backend.namespace)
    assert not errors, (f"parallel store_result on distinct ids ({n_workers} {mode}) raised:\n"
                        + "\n".join(map(str, errors)))
    for (w, r), task_id in ids.items():
        meta = _read(backend, task_id)
        assert meta["status"] == states.SUCCESS and meta["result"] == normalized(expected(w, r)), (
            f"parallel write ({mode}) of worker {w}, round {r} reads back "
            f"{meta['status']} {meta['result']!r}")
