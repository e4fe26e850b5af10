"""XP1: with result_expires E > 0, ready results and groups written more than
E ago are gone after cleanup() (or the store's own expiry), and those written
less than E ago are kept. Checked in real time: old writes, a wait past E,
young writes, then cleanup()."""

import time
import uuid

from celery import states
from celery.result import AsyncResult, GroupResult

CLAUSE = "XP1"
TESTS = ("test_cleanup_deletes_expired_ready_results_and_groups_only",
         "test_cleanup_boundary_holds_in_real_time")

#: E in seconds, and how long past E the old writes are judged (room for a
#: store whose own expiry counts in whole seconds)
EXPIRES, PAST_S = 3, 2.0
READY = (states.SUCCESS, states.FAILURE, states.REVOKED)


def write(backend, state):
    """A result in ``state`` and a group holding it: (task id, group id)."""
    task_id, group_id = str(uuid.uuid4()), str(uuid.uuid4())
    value = RuntimeError(state) if state in states.EXCEPTION_STATES else {"state": state}
    backend.store_result(task_id, value, state)
    child = AsyncResult(task_id, app=backend.app)
    backend.save_group(group_id, GroupResult(group_id, [child], app=backend.app))
    return task_id, group_id


def reproduce(make_backend):
    backend = make_backend(result_expires=EXPIRES)
    old = {state: write(backend, state) for state in READY}
    written_at = time.monotonic()
    time.sleep(EXPIRES + PAST_S)
    young = {state: write(backend, state) for state in READY}
    age = time.monotonic() - written_at
    backend.cleanup()
    setting = f"result_expires={EXPIRES}s"
    for state, (task_id, group_id) in young.items():
        got = backend.get_task_meta(task_id, cache=False)["status"]
        if got != state:
            return (f"cleanup() with {setting} deleted a {state} result written a moment "
                    f"ago: it reads {got}")
        group = backend.restore_group(group_id, cache=False)
        if group is None or [r.id for r in group.results] != [task_id]:
            return f"cleanup() with {setting} deleted a group saved a moment ago"
    for state, (task_id, group_id) in old.items():
        got = backend.get_task_meta(task_id, cache=False)["status"]
        if got != states.PENDING:
            return (f"neither cleanup() nor the store removed a {state} result written "
                    f"{age:.1f}s ago with {setting}: it still reads {got}")
        if backend.restore_group(group_id, cache=False) is not None:
            return (f"neither cleanup() nor the store removed a group saved {age:.1f}s ago "
                    f"with {setting}")
    return None


if __name__ == "__main__":
    from _run import main

    main(reproduce)
