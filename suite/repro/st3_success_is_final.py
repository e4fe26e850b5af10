"""ST3: once SUCCESS is stored, a later store_result of any state (STARTED,
RETRY, PENDING, SUCCESS again) leaves status and result as they were."""

import uuid

from celery import states

CLAUSE = "ST3"
TESTS = ("test_success_is_final",)


def reproduce(make_backend):
    backend = make_backend()
    for later in (states.STARTED, states.RETRY, states.PENDING, states.SUCCESS):
        task_id = str(uuid.uuid4())
        backend.store_result(task_id, {"v": "done"}, states.SUCCESS)
        backend.store_result(task_id, {"v": "later"}, later)
        meta = backend.get_task_meta(task_id, cache=False)
        if (meta["status"], meta["result"]) != (states.SUCCESS, {"v": "done"}):
            return (f"a {later} write after SUCCESS replaced it: the id reads "
                    f"{meta['status']} {meta['result']!r}")
    return None


if __name__ == "__main__":
    from _run import main

    main(reproduce)
