"""ST2: after non-SUCCESS writes the meta reflects the last write, on every
read: reading other ids in between changes nothing."""

import uuid

from celery import states

CLAUSE = "ST2"
TESTS = ("test_non_success_writes_replace_each_other",)


def reproduce(make_backend):
    backend = make_backend()
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    backend.store_result(first, {"n": 1}, states.STARTED)
    backend.store_result(second, {"n": 2}, "PROGRESS")
    for read in range(1, 4):
        for task_id, state in ((first, states.STARTED), (second, "PROGRESS")):
            status = backend.get_task_meta(task_id, cache=False)["status"]
            if status != state:
                return (f"a {state} result read back as {status} on read {read} (two ids "
                        f"in {state}/STARTED/PROGRESS, read in turn)")
    return None


if __name__ == "__main__":
    from _run import main

    main(reproduce)
