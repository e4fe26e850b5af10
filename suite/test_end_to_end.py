"""Through a real worker: chords, groups, chains, retries, revoke, waiting.

Each test sends tasks to a real ``celery worker`` (suite/worker.py: prefork
with 2 processes, or a threads pool) whose result backend is the target under
test, over a real broker, and reads the outcome as a user's client does. Task
runs are counted outside the store (a file per run), so "the body ran
once" never relies on the backend being judged.
"""

from __future__ import annotations

import time
import uuid

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from celery import chain, chord, group, states
from celery.exceptions import ChordError, TaskRevokedError, TimeoutError as CeleryTimeoutError
from celery.result import AsyncResult

from .helpers import read
from .plumbing import fault_proxy_before, open_backdoor
from .worker_app import HeaderFailed

#: seconds a test waits for a worker outcome that should come in well under one
OUTCOME_TIMEOUT_S = 60.0
#: seconds a test polls for a state the worker writes within a second or two
STATE_TIMEOUT_S = 8.0
#: seconds to keep watching after a chord completed, for a second firing of its body
SECOND_FIRING_GRACE_S = 0.5

header_values = st.lists(st.one_of(st.integers(-10**6, 10**6), st.text(max_size=8)),
                         min_size=1, max_size=10)


def _wait_for_state(result: AsyncResult, wanted: set, timeout: float = STATE_TIMEOUT_S) -> list:
    """Poll the backend (cache off) until the result's state is in ``wanted``;
    the states seen on the way, in order."""
    seen: list = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = read(result.backend, result.id)["status"]
        if not seen or seen[-1] != state:
            seen.append(state)
        if state in wanted:
            return seen
        time.sleep(0.05)
    pytest.fail(f"task {result.id} never reached {sorted(wanted)} in {timeout:.0f} s; "
                f"states seen: {seen}")


def _after_waiting_once(worker) -> None:
    """What a client has usually done before: waited for a result
    (AsyncResult.get). Reads of other tasks' states must not depend on it."""
    assert worker.signature("add", 1, 1).apply_async().get(timeout=OUTCOME_TIMEOUT_S) == 2


def _wait_for_runs(worker, runs: str, label: str, count: int,
                   timeout: float = OUTCOME_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    while worker.count_runs(runs, label) < count and time.monotonic() < deadline:
        time.sleep(0.05)


# ----------------------------------------------------------------- chords
def _require_chords(capabilities):
    if not capabilities.stores_groups:
        pytest.skip("not run: the backend stores no groups, so it runs no chords "
                    "(Capabilities.stores_groups; Celery's rpc raises NotImplementedError)")


def _check_chord(worker, values):
    runs = worker.runs("chord")
    header = [worker.signature("echo", v) for v in values]
    result = chord(header)(worker.signature("collect", runs=runs))
    got = result.get(timeout=OUTCOME_TIMEOUT_S)
    assert got == values, f"the chord body got {got!r}, not the header's results in order"
    time.sleep(SECOND_FIRING_GRACE_S)
    fired = worker.count_runs(runs, "body")
    assert fired == 1, f"the chord body ran {fired} times"


@pytest.mark.clause("CH1")
@settings(max_examples=3)
@example(values=list(range(10)))
@given(values=header_values)
def test_chord_body_runs_once_with_the_header_results_in_order(worker, capabilities, values):
    """A chord of N successful header tasks runs its body exactly once, with
    the N results in header order (prefork worker, 2 processes)."""
    _require_chords(capabilities)
    _check_chord(worker, values)


@pytest.mark.clause("CH1")
@settings(max_examples=1)
@example(values=list(range(10)))
@given(values=header_values)
def test_chord_body_runs_once_on_a_threads_pool(threads_worker, capabilities, values):
    """CH1 with the header finishing on threads of one process (4 threads)."""
    _require_chords(capabilities)
    _check_chord(threads_worker, values)


@pytest.mark.clause("CH2")
@settings(max_examples=2)
@given(values=st.lists(st.integers(0, 100), min_size=0, max_size=6), data=st.data())
def test_chord_with_a_failing_header_task_fails_its_body(worker, capabilities, values, data):
    """A header task that fails keeps the body from running; the body's result
    ends FAILURE with a ChordError naming the failed task.

    Celery 5.7 names the culprit's id only for a result in the backend's
    cache (``ResultSet._failed_join_report``, used by ``unlock_chord`` and
    ``BaseBackend.on_chord_part_return``), and PL3 keeps FAILURE out of that
    cache; so a ChordError names the culprit by its id or by its own error
    (each member here fails with a message of its own)."""
    _require_chords(capabilities)
    runs = worker.runs("chord-fail")
    position = data.draw(st.integers(0, len(values)), label="failing position")
    header = [worker.signature("echo", v) for v in values]
    own_error = f"header member {position} of {len(values) + 1} failed"
    header.insert(position, worker.signature("fail", own_error))
    result = chord(header)(worker.signature("collect", runs=runs))
    with pytest.raises(Exception) as raised:
        # the body's own outcome: by default get() re-raises a failed parent's error
        result.get(timeout=OUTCOME_TIMEOUT_S, follow_parents=False)
    assert result.state == states.FAILURE, f"the chord's result is {result.state}"
    assert isinstance(raised.value, ChordError), (
        f"the chord's result raised {type(raised.value).__name__}: {raised.value}, "
        f"not a ChordError")
    culprit = result.parent.results[position].id
    assert culprit in str(raised.value) or own_error in str(raised.value), (
        f"the ChordError names neither the failed task {culprit} nor its error "
        f"{own_error!r}: {raised.value}")
    time.sleep(SECOND_FIRING_GRACE_S)
    assert worker.count_runs(runs, "body") == 0, "the chord body ran although a header task failed"


@pytest.mark.clause("CH3")
@pytest.mark.requires("implements_incr")
@settings(max_examples=2)
@given(size=st.integers(1, 6), extra=st.integers(1, 3))
def test_extra_chord_part_returns_never_fire_the_body_again(worker, capabilities, size, extra):
    """After a chord completed through the worker, its counter and saved group
    are gone, and further on_chord_part_return calls for its members (a
    redelivered header task) never run the body a second time."""
    from celery.app.task import Context

    _require_chords(capabilities)
    runs = worker.runs("chord-extra")
    body = worker.signature("collect", runs=runs)
    result = chord([worker.signature("echo", v) for v in range(size)], body).apply_async()
    assert result.get(timeout=OUTCOME_TIMEOUT_S) == list(range(size))
    _wait_for_runs(worker, runs, "body", 1)
    group_id = result.parent.id
    backend = worker.app.backend
    assert backend.get(backend.get_key_for_chord(group_id)) is None, (
        "the chord counter is still stored after the chord completed")
    assert backend.restore_group(group_id, cache=False) is None, (
        "the chord's saved group is still stored after the chord completed")
    member = result.parent.results[0]
    request = Context(id=member.id, group=group_id,
                      chord=dict(body, options={**body.options, "task_id": result.id,
                                                "chord_size": size}))
    for _ in range(extra):
        backend.on_chord_part_return(request, states.SUCCESS, 0)
    time.sleep(SECOND_FIRING_GRACE_S)
    fired = worker.count_runs(runs, "body")
    assert fired == 1, f"the chord body ran {fired} times after {extra} extra part returns"
    assert read(backend, result.id)["result"] == list(range(size)), (
        "an extra part return changed the chord's result")


@pytest.mark.clause("CH3", "FG3")
@pytest.mark.requires("implements_incr")
@settings(max_examples=1)
@given(size=st.integers(1, 4), data=st.data())
def test_a_failed_chord_leaves_no_counter_or_group_and_forgets_whole(worker, capabilities,
                                                                     conformance_target,
                                                                     size, data):
    """A chord whose header has a failing member also ends with its counter
    and saved group gone once every member returned; forgetting its result
    then forgets every header result too."""
    _require_chords(capabilities)
    backdoor = open_backdoor(conformance_target.spec, worker.app.backend)
    position = data.draw(st.integers(0, size), label="failing position")
    header = [worker.signature("echo", v) for v in range(size)]
    header.insert(position, worker.signature("fail", "header member failed"))
    result = chord(header)(worker.signature("collect"))
    with pytest.raises(ChordError):
        result.get(timeout=OUTCOME_TIMEOUT_S, follow_parents=False)
    group_id, backend = result.parent.id, worker.app.backend
    assert backend.get(backend.get_key_for_chord(group_id)) is None, (
        "the counter of a failed chord is still stored")
    assert backend.restore_group(group_id, cache=False) is None, (
        "the saved group of a failed chord is still stored")
    members = [r.id for r in result.parent.results]
    result.forget()
    for task_id in [result.id] + members:
        assert read(backend, task_id)["status"] == states.PENDING, (
            f"{task_id} reads back after the chord's result was forgotten")
        assert not backdoor.record_exists(task_id), f"{task_id} is still stored"
    backdoor.close()


#: CH4's settings: results expire after 3 s, a chord's after 30 s (E is far
#: longer than a loaded worker takes between storing a header result and the
#: part return that extends a TTL store's expiry to the chord's)
CHORD_EXPIRY = dict(result_expires=3, result_chord_expires=30)
#: seconds CH4's slow header member runs: past E, well within the chord's expiry
SLOW_MEMBER_S = 6.0


@pytest.mark.clause("CH4")
def test_a_pending_chords_header_results_outlive_result_expires(start_worker, capabilities):
    """While a chord waits for a slow header member, the results of the
    members that finished stay for max(result_chord_expires, E), not E: with
    results expiring after 3 s, a chord's after 30 s, and cleanup() run (as
    beat's celery.backend_cleanup) while it waits, the chord completes with
    every member's result."""
    _require_chords(capabilities)
    worker = start_worker("prefork", **CHORD_EXPIRY)
    values = list(range(4))
    header = [worker.signature("echo", v) for v in values[:-1]]
    header.append(worker.signature("echo", values[-1], seconds=SLOW_MEMBER_S))
    result = chord(header)(worker.signature("collect"))
    time.sleep(SLOW_MEMBER_S - 1.0)      # the quick members finished over E ago
    if capabilities.cleanup:
        worker.app.backend.cleanup()
    # a chord whose members' results are kept completes within a second or two
    assert result.get(timeout=SLOW_MEMBER_S + 10) == values, (
        "the chord did not complete with every header result: results of its finished "
        "members expired while it waited")


# ------------------------------------------------------------ groups, chains
@pytest.mark.clause("CC4")
@settings(max_examples=2)
@given(values=st.lists(st.integers(), min_size=1, max_size=12),
       delays=st.lists(st.sampled_from([0.0, 0.05, 0.2]), min_size=12, max_size=12))
def test_group_join_returns_every_result_in_order(worker, values, delays):
    """GroupResult.join gives every member's result in group order while the
    members finish in another order; join_native (where the backend has
    native joins) gives the same."""
    members = [worker.signature("echo", v, seconds=d) for v, d in zip(values, delays)]
    result = group(members).apply_async()
    assert result.join(timeout=OUTCOME_TIMEOUT_S) == values
    if worker.app.backend.supports_native_join:
        again = group(members).apply_async()
        assert again.join_native(timeout=OUTCOME_TIMEOUT_S) == values


@pytest.mark.clause("CC4")
@settings(max_examples=2)
@given(delays=st.lists(st.sampled_from([0.0, 0.05, 0.3]), min_size=1, max_size=10),
       with_unsent=st.booleans())
def test_get_many_under_concurrent_completion(worker, delays, with_unsent):
    """get_many over results the worker completes while it waits yields each
    id at most once and only when ready; TimeoutError only if an id (one never
    sent) is still not ready at the deadline."""
    sent = [worker.signature("echo", i, seconds=d).apply_async() for i, d in enumerate(delays)]
    ids = [r.id for r in sent]
    if with_unsent:
        ids.append(f"never-sent-{uuid.uuid4()}")
    backend = worker.app.backend
    if not callable(getattr(backend, "get_many", None)):
        pytest.skip("not run: the backend has no get_many (Celery's BaseBackend defines "
                    "none; its key-value backends do)")
    yielded: list = []
    timeout = 3.0 + sum(delays) if with_unsent else OUTCOME_TIMEOUT_S
    try:
        for task_id, meta in backend.get_many(ids, timeout=timeout, interval=0.05):
            assert meta["status"] in states.READY_STATES, (
                f"get_many yielded {task_id} in state {meta['status']}")
            yielded.append(task_id)
    except CeleryTimeoutError:
        assert with_unsent, "get_many timed out although every id became ready"
    else:
        assert not with_unsent, "get_many returned although an id never became ready"
    assert len(yielded) == len(set(yielded)), f"get_many yielded an id twice: {yielded}"
    sent_ids = [r.id for r in sent]
    if not with_unsent:
        assert sorted(yielded) == sorted(sent_ids), "get_many missed a ready id"


@pytest.mark.clause("FG3")
@settings(max_examples=1)
@given(length=st.integers(2, 4))
def test_a_chains_result_forgets_its_parents(worker, conformance_target, length):
    """A chain run by the worker links each result to its parent, and
    forgetting the last result forgets every link before it."""
    backdoor = open_backdoor(conformance_target.spec, worker.app.backend)
    result = chain(worker.signature("add", 1, 0),
                   *[worker.signature("add", 1) for _ in range(length - 1)]).apply_async()
    assert result.get(timeout=OUTCOME_TIMEOUT_S) == length
    links, node = [], result
    while node is not None:
        links.append(node.id)
        node = node.parent
    assert len(links) == length, f"the chain's result has {len(links) - 1} parents"
    for task_id in links:
        assert read(worker.app.backend, task_id)["status"] == states.SUCCESS
    result.forget()
    for task_id in links:
        assert read(worker.app.backend, task_id)["status"] == states.PENDING
        assert not backdoor.record_exists(task_id), f"link {task_id} is still stored"
    backdoor.close()


# ------------------------------------------------- what the worker writes
@pytest.mark.clause("ST8", "ST2")
def test_a_retrying_task_reads_retry_then_success(worker):
    """A task that retries once reads RETRY while its retry is due, then
    SUCCESS with its value, as seen from the caller."""
    _after_waiting_once(worker)
    runs = worker.runs("retry")
    result = worker.signature("retry_once", "done", runs=runs, seconds=1.0).apply_async()
    seen = _wait_for_state(result, {states.RETRY, states.SUCCESS})
    assert seen[-1] == states.RETRY, f"the retry was never seen: states {seen}"
    assert result.get(timeout=OUTCOME_TIMEOUT_S) == "done"
    assert worker.count_runs(runs, "try0") == 1 and worker.count_runs(runs, "try1") == 1


@pytest.mark.clause("ST6")
def test_a_started_task_reads_started_with_its_worker(worker):
    """With track_started, a running task reads STARTED with the pid and
    hostname of the worker process running it, then SUCCESS."""
    _after_waiting_once(worker)
    result = worker.signature("started", "v", 1.0).apply_async()
    _wait_for_state(result, {states.STARTED, states.SUCCESS})
    meta = read(worker.app.backend, result.id)
    assert meta["status"] == states.STARTED, f"state {meta['status']} while running"
    info = meta["result"]
    assert isinstance(info, dict) and isinstance(info.get("pid"), int) and \
        worker.queue in str(info.get("hostname")), f"STARTED carries {info!r}"
    assert result.get(timeout=OUTCOME_TIMEOUT_S) == "v"


@pytest.mark.clause("XT1")
@settings(max_examples=1)
@given(args=st.lists(st.integers(), max_size=3), value=st.text(max_size=10))
def test_extended_results_from_the_worker(worker, args, value):
    """With result_extended, the meta the worker stores holds the task's name,
    args, kwargs, worker, retries and queue."""
    _after_waiting_once(worker)
    result = worker.signature("echo", value, seconds=0.0).apply_async()
    assert result.get(timeout=OUTCOME_TIMEOUT_S) == value
    meta = read(worker.app.backend, result.id)
    assert meta.get("name") == "conformance.echo", f"name: {meta.get('name')!r}"
    assert list(meta.get("args") or []) == [value]
    assert meta.get("kwargs") == {"seconds": 0.0}
    assert worker.queue in str(meta.get("worker")), f"worker: {meta.get('worker')!r}"
    assert meta.get("retries") == 0
    assert meta.get("queue") == worker.queue, f"queue: {meta.get('queue')!r}"


@pytest.mark.clause("ST5")
def test_ignore_result_stores_nothing_but_errors(worker, conformance_target):
    """A task with ignore_result stores nothing when it succeeds; with
    task_store_errors_even_if_ignored its failure is stored."""
    _after_waiting_once(worker)
    runs = worker.runs("ignored")
    quiet = worker.signature("ignored", "v", runs=runs).apply_async()
    _wait_for_runs(worker, runs, "ignored", 1)
    time.sleep(0.5)
    assert read(worker.app.backend, quiet.id)["status"] == states.PENDING, (
        "an ignored result was stored")
    failing = worker.signature("ignored", "v", fail_with="boom", runs=runs).apply_async()
    seen = _wait_for_state(failing, {states.FAILURE})
    assert seen[-1] == states.FAILURE


@pytest.mark.clause("ST7")
def test_revoking_a_queued_task_reads_revoked(worker):
    """A task revoked while it waits behind busy worker processes never runs
    and reads REVOKED; waiting on it raises TaskRevokedError."""
    _after_waiting_once(worker)
    runs = worker.runs("revoke")
    busy = [worker.signature("echo", i, runs=runs, seconds=1.0).apply_async()
            for i in range(worker.concurrency)]
    queued = worker.signature("echo", "never", runs=runs).apply_async()
    queued.revoke()
    _wait_for_state(queued, {states.REVOKED})
    with pytest.raises(TaskRevokedError):
        queued.get(timeout=OUTCOME_TIMEOUT_S)
    for r in busy:
        r.get(timeout=OUTCOME_TIMEOUT_S)
    assert worker.count_runs(runs, "echo") == worker.concurrency, "the revoked task ran"


#: the worker's retry settings in the fault test: many quick retries
RETRYING = dict(result_backend_always_retry=True, result_backend_max_retries=40,
                result_backend_base_sleep_between_retries_ms=50,
                result_backend_max_sleep_between_retries_ms=500)
#: seconds the store is unreachable in the middle of the chord
OUTAGE_S = 1.5


@pytest.fixture(scope="module")
def worker_fault_proxy(worker_factory):
    """A fault proxy in front of the store of the module's workers (not run
    for embedded stores, or where the results travel on the broker)."""
    with fault_proxy_before(worker_factory.store) as proxy:
        yield proxy


@pytest.mark.clause("RY4")
def test_a_chord_completes_across_a_store_outage(start_worker, worker_fault_proxy,
                                                 capabilities):
    """A worker whose connections to the store are reset, and refused for
    1.5 s, while a chord's members finish (result_backend_always_retry)
    completes the chord once the store is back: the body runs once with
    every member's result, and every member's result reads back."""
    _require_chords(capabilities)
    if capabilities.results_to_sender:
        pytest.skip("not run: the results travel on the broker's connection, which the "
                    "fault would cut too")
    worker = start_worker("prefork", through=worker_fault_proxy.port, **RETRYING)
    runs = worker.runs("chord-outage")
    values = list(range(10))
    _after_waiting_once(worker)                              # connections are open
    header = [worker.signature("echo", v, seconds=0.2) for v in values]
    result = chord(header)(worker.signature("collect", runs=runs))
    time.sleep(0.3)
    connections = worker_fault_proxy.stats["connections"]
    cut = worker_fault_proxy.reset()
    worker_fault_proxy.refuse()
    worker_fault_proxy.heal_after(OUTAGE_S)
    assert result.get(timeout=OUTCOME_TIMEOUT_S) == values, (
        "the chord's body did not get every member's result after the outage")
    assert cut or worker_fault_proxy.stats["connections"] > connections, (
        "the outage met no connection of the worker: the test proved nothing")
    time.sleep(SECOND_FIRING_GRACE_S)
    assert worker.count_runs(runs, "body") == 1, "the chord body did not run exactly once"
    for member, value in zip(result.parent.results, values):
        meta = read(worker.app.backend, member.id)
        assert (meta["status"], meta["result"]) == (states.SUCCESS, value), (
            f"member {member.id}'s result was lost in the outage: {meta['status']}")


#: result_expires (seconds) of the worker that runs beat's cleanup task: the
#: result written just before the task runs must stay younger than it, on a
#: loaded machine and at a store's one-second date_done (MariaDB's DATETIME)
SHORT_EXPIRY_S = 3


@pytest.mark.clause("XP1", "XP2")
@pytest.mark.requires("cleanup")
def test_beats_backend_cleanup_task_removes_expired_results(start_worker, conformance_target):
    """celery.backend_cleanup (the task beat sends daily), run by a worker
    whose results expire after 1 s, deletes the results that finished more
    than that ago and keeps one written just before it ran."""
    worker = start_worker("prefork", result_expires=SHORT_EXPIRY_S)
    backdoor = open_backdoor(conformance_target.spec, worker.app.backend)
    old = [worker.signature("add", i, 1).apply_async() for i in range(3)]
    assert [r.get(timeout=OUTCOME_TIMEOUT_S) for r in old] == [1, 2, 3]
    # past E, at the stores' one-second date_done granularity
    time.sleep(SHORT_EXPIRY_S + 2.1)
    fresh = worker.signature("add", 10, 1).apply_async()
    assert fresh.get(timeout=OUTCOME_TIMEOUT_S) == 11
    cleanup = worker.app.send_task("celery.backend_cleanup")
    cleanup.get(timeout=OUTCOME_TIMEOUT_S)
    for r in old:
        assert read(worker.app.backend, r.id)["status"] == states.PENDING, (
            f"result {r.id}, finished over {SHORT_EXPIRY_S + 2} s before celery.backend_cleanup "
            f"with result_expires={SHORT_EXPIRY_S}, is still readable")
        assert not backdoor.record_exists(r.id), f"result {r.id} is still stored"
    assert read(worker.app.backend, fresh.id)["status"] == states.SUCCESS, (
        "celery.backend_cleanup deleted a result younger than result_expires")
    backdoor.close()


@pytest.mark.clause("PL1")
def test_get_with_a_timeout_on_ready_pending_and_failing_tasks(worker):
    """AsyncResult.get(timeout) returns a ready result, raises TimeoutError
    for a task that never ran within about its timeout, and raises the task's
    own error for a failed one."""
    ready = worker.signature("add", 2, 3).apply_async()
    assert ready.get(timeout=OUTCOME_TIMEOUT_S) == 5
    pending = AsyncResult(f"never-sent-{uuid.uuid4()}", app=worker.app)
    started = time.monotonic()
    with pytest.raises(CeleryTimeoutError):
        pending.get(timeout=0.5, interval=0.1)
    assert time.monotonic() - started < 0.5 + 5.0, "get(timeout=0.5) waited far longer"
    failing = worker.signature("fail", "expected").apply_async()
    with pytest.raises(HeaderFailed):
        failing.get(timeout=OUTCOME_TIMEOUT_S)
