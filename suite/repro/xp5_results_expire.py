"""XP5: results expire: a ready result written more than result_expires ago
is gone, removed by cleanup() or by the store's own expiry. A backend whose
cleanup() removes nothing and whose store keeps results forever never
expires anything."""

import time
import uuid

from celery import states

CLAUSE = "XP5"
TESTS = ("test_results_expire",)

#: E in seconds, and how long past E the result is read (room for a store
#: whose own expiry counts in whole seconds)
EXPIRES, PAST_S = 2, 2.0


def reproduce(make_backend):
    backend = make_backend(result_expires=EXPIRES)
    task_id = str(uuid.uuid4())
    backend.store_result(task_id, {"expiring": True}, states.SUCCESS)
    time.sleep(EXPIRES + PAST_S)
    backend.cleanup()
    got = backend.get_task_meta(task_id, cache=False)["status"]
    if got != states.PENDING:
        return (f"never expires: a SUCCESS result written with result_expires={EXPIRES}s "
                f"still reads {got} {EXPIRES + PAST_S:.0f}s later, after cleanup()")
    return None


if __name__ == "__main__":
    from _run import main

    main(reproduce)
