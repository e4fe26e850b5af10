"""XP2: cleanup() never deletes a result written less than result_expires
ago, whatever its state, in any app timezone (east and west of UTC) and with
enable_utc on or off: results and a group written a moment ago, and a result
rewritten a moment ago, all read back after cleanup()."""

import uuid

from celery import states
from celery.result import AsyncResult, GroupResult

CLAUSE = "XP2"
TESTS = ("test_cleanup_keeps_every_result_written_less_than_expiry_ago",
         "test_cleanup_keeps_young_results_in_real_time_in_every_timezone")

#: far longer than this script runs, far shorter than any zone's UTC offset
EXPIRES = 60
ZONES = ("UTC", "America/New_York", "Asia/Kolkata", "Pacific/Chatham", "Etc/GMT+12",
         "Etc/GMT-14")
WRITTEN = (states.STARTED, states.RETRY, states.SUCCESS, states.FAILURE, states.REVOKED,
           "PROGRESS")


def store(backend, state):
    task_id = str(uuid.uuid4())
    value = RuntimeError(state) if state in states.EXCEPTION_STATES else {"state": state}
    backend.store_result(task_id, value, state)
    return task_id


def kept_in(zone, enable_utc, make_backend):
    """None when cleanup() in this zone keeps everything just written, else
    what it removed."""
    backend = make_backend(result_expires=EXPIRES, timezone=zone, enable_utc=enable_utc)
    written = {store(backend, state): state for state in WRITTEN}
    rewritten = store(backend, states.STARTED)
    backend.store_result(rewritten, {"state": states.SUCCESS}, states.SUCCESS)
    written[rewritten] = states.SUCCESS
    group_id = str(uuid.uuid4())
    child = AsyncResult(rewritten, app=backend.app)
    backend.save_group(group_id, GroupResult(group_id, [child], app=backend.app))
    backend.cleanup()
    setting = f"result_expires={EXPIRES}s, timezone={zone!r}, enable_utc={enable_utc}"
    for task_id, state in written.items():
        got = backend.get_task_meta(task_id, cache=False)["status"]
        if got != state:
            what = "rewritten as" if task_id == rewritten else "written"
            return (f"cleanup() with {setting} removed or changed a result {what} {state} "
                    f"a moment ago: it reads {got}")
    group = backend.restore_group(group_id, cache=False)
    if group is None or [r.id for r in group.results] != [rewritten]:
        return f"cleanup() with {setting} deleted a group saved a moment ago"
    return None


def reproduce(make_backend):
    for zone in ZONES:
        for enable_utc in (True, False):
            divergence = kept_in(zone, enable_utc, make_backend)
            if divergence:
                return divergence
    return None


if __name__ == "__main__":
    from _run import main

    main(reproduce)
