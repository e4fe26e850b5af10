"""XP4: the XP1 boundary holds in every app timezone and enable_utc setting:
with result_expires E, a ready result and a group written more than E ago
are gone after cleanup() (or the store's own expiry) and those written a
moment ago are kept, east and west of UTC alike. Expiry is elapsed time, not
a wall-clock reading of some zone. Checked in real time, one wait for all
zones."""

import time
import uuid

from celery import states
from celery.result import AsyncResult, GroupResult

CLAUSE = "XP4"
TESTS = ("test_cleanup_boundary_holds_in_every_timezone",
         "test_cleanup_boundary_holds_in_real_time_in_every_timezone")

#: E in seconds, and how long past E the old writes are judged (room for a
#: store whose own expiry counts in whole seconds)
EXPIRES, PAST_S = 3, 2.0
ZONES = ("UTC", "America/New_York", "Asia/Kolkata", "Pacific/Chatham", "Etc/GMT+12",
         "Etc/GMT-14")


def result_and_group(backend):
    task_id, group_id = str(uuid.uuid4()), str(uuid.uuid4())
    backend.store_result(task_id, {"written": time.time()}, states.SUCCESS)
    members = [AsyncResult(task_id, app=backend.app)]
    backend.save_group(group_id, GroupResult(group_id, members, app=backend.app))
    return task_id, group_id


def boundary(backend, old, age, setting):
    """Write young ones, run cleanup(), and say what crossed the boundary."""
    young_id, young_gid = result_and_group(backend)
    backend.cleanup()
    if backend.get_task_meta(young_id, cache=False)["status"] != states.SUCCESS:
        return f"cleanup() with {setting} deleted a SUCCESS result written a moment ago"
    if backend.restore_group(young_gid, cache=False) is None:
        return f"cleanup() with {setting} deleted a group saved a moment ago"
    old_id, old_gid = old
    got = backend.get_task_meta(old_id, cache=False)["status"]
    if got != states.PENDING:
        return (f"neither cleanup() nor the store removed a SUCCESS result written "
                f"{age:.1f}s ago with {setting}: it still reads {got}")
    if backend.restore_group(old_gid, cache=False) is not None:
        return f"neither cleanup() nor the store removed a group saved {age:.1f}s ago with {setting}"
    return None


def reproduce(make_backend):
    olds = {}
    for zone in ZONES:
        for enable_utc in (True, False):
            backend = make_backend(result_expires=EXPIRES, timezone=zone, enable_utc=enable_utc)
            olds[(zone, enable_utc)] = backend, result_and_group(backend), time.monotonic()
    last_written = max(written_at for _, _, written_at in olds.values())
    time.sleep(max(0.0, last_written + EXPIRES + PAST_S - time.monotonic()))
    for (zone, enable_utc), (backend, old, written_at) in olds.items():
        setting = f"result_expires={EXPIRES}s, timezone={zone!r}, enable_utc={enable_utc}"
        divergence = boundary(backend, old, time.monotonic() - written_at, setting)
        if divergence:
            return divergence
    return None


if __name__ == "__main__":
    from _run import main

    main(reproduce)
