"""CC3: parallel store_result on distinct ids from forked processes all
persist and read back their own values, in the process that forked them too."""

import multiprocessing
import uuid

from celery import states

CLAUSE = "CC3"
TESTS = ("test_parallel_writes_to_distinct_ids_all_persist",)


def _write(backend, task_id, errors):
    try:
        backend.store_result(task_id, {"id": task_id}, states.SUCCESS)
    except Exception as exc:  # reported by the parent
        errors.put(f"{type(exc).__name__}: {exc}")


def reproduce(make_backend):
    backend = make_backend()
    warm = str(uuid.uuid4())     # the parent uses the backend before it forks
    backend.store_result(warm, 1, states.SUCCESS)
    backend.get_task_meta(warm, cache=False)
    context = multiprocessing.get_context("fork")
    errors = context.Queue()
    ids = [str(uuid.uuid4()) for _ in range(2)]
    children = [context.Process(target=_write, args=(backend, i, errors)) for i in ids]
    for child in children:
        child.start()
    for child in children:
        child.join(120)
    if not errors.empty():
        return f"a forked writer failed: {errors.get()}"
    for task_id in ids:
        try:
            meta = backend.get_task_meta(task_id, cache=False)
        except Exception as exc:
            return (f"after forked children wrote, the parent's read raised "
                    f"{type(exc).__name__}: {exc}")
        if meta["status"] != states.SUCCESS or meta["result"] != {"id": task_id}:
            return f"a forked child's write reads back as {meta['status']} {meta['result']!r}"
    return None


if __name__ == "__main__":
    from _run import main

    main(reproduce)
