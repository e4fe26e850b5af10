"""XP6: cleanup() also removes results left in a non-ready state (STARTED,
RETRY, custom states) whose last write is more than result_expires ago,
whether written once or rewritten from another non-ready state, and keeps a
non-ready result written a moment ago. Checked in real time."""

import time
import uuid

from celery import states

CLAUSE = "XP6"
TESTS = ("test_cleanup_removes_stale_non_ready_results",
         "test_cleanup_removes_stale_non_ready_results_in_real_time")

#: E in seconds, and how long past E the stale results are judged (room for a
#: store whose own expiry counts in whole seconds)
EXPIRES, PAST_S = 3, 2.0
#: (last state, the state first written before it)
STALE = ((states.STARTED, states.RETRY), (states.RETRY, "PROGRESS"),
         ("PROGRESS", states.STARTED), ("CONFORMANCE-CUSTOM", states.STARTED))


def reproduce(make_backend):
    backend = make_backend(result_expires=EXPIRES)

    def store(task_id, state, label):
        value = RuntimeError(label) if state in states.EXCEPTION_STATES else {label: True}
        backend.store_result(task_id, value, state)

    def status(task_id):
        return backend.get_task_meta(task_id, cache=False)["status"]

    stale = []
    for state, first in STALE:
        once, twice = str(uuid.uuid4()), str(uuid.uuid4())
        store(once, state, "stale")
        store(twice, first, "first")
        store(twice, state, "stale")
        stale += [(once, state, "written once as"), (twice, state, f"written {first}, then")]
    written_at = time.monotonic()
    time.sleep(EXPIRES + PAST_S)
    fresh = {str(uuid.uuid4()): state for state, _ in STALE}
    for task_id, state in fresh.items():
        store(task_id, state, "fresh")
    age = time.monotonic() - written_at
    backend.cleanup()
    for task_id, state in fresh.items():
        if status(task_id) != state:
            return (f"cleanup() with result_expires={EXPIRES}s removed a {state} result "
                    f"written a moment ago (it reads {status(task_id)})")
    for task_id, state, how in stale:
        if status(task_id) != states.PENDING:
            return (f"cleanup() with result_expires={EXPIRES}s kept a result {how} {state} "
                    f"{age:.1f}s ago: it still reads {status(task_id)}")
    return None


if __name__ == "__main__":
    from _run import main

    main(reproduce)
