"""CH4: while a chord is pending, the result a header task wrote (its request
names the chord) is kept for max(result_chord_expires, E), not E: cleanup()
run after E, before result_chord_expires, keeps it."""

import time
import uuid

from celery import states
from celery.app.task import Context

CLAUSE = "CH4"
TESTS = ("test_a_pending_chords_header_results_outlive_result_expires",
         "test_a_pending_chords_header_results_survive_cleanup_past_result_expires")

#: seconds between the header result's write and cleanup(): past E (1 s)
WAIT_S = 2.5


def reproduce(make_backend):
    backend = make_backend(result_expires=1, result_chord_expires=60)
    task_id, group_id = str(uuid.uuid4()), str(uuid.uuid4())
    request = Context(id=task_id, group=group_id,
                      chord={"task": "body", "args": [], "kwargs": {}, "options": {}})
    backend.store_result(task_id, "header result", states.SUCCESS, request=request)
    time.sleep(WAIT_S)
    backend.cleanup()
    meta = backend.get_task_meta(task_id, cache=False)
    if meta["status"] != states.SUCCESS:
        return (f"a chord's header result written {WAIT_S} s before cleanup() with "
                f"result_expires=1 and result_chord_expires=60 reads {meta['status']}: "
                f"a chord still waiting for a slower member would never complete")
    return None


if __name__ == "__main__":
    from _run import main

    main(reproduce)
