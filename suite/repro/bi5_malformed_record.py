"""BI5: a malformed record written straight into the store (garbage after
valid JSON, or JSON cut short) makes get_task_meta of that id raise an error
naming the id."""

import uuid

from celery import states

CLAUSE = "BI5"
TESTS = ("test_garbage_record_raises_naming_the_id",
         "test_truncated_record_raises_naming_the_id")

PAYLOADS = ['{"a": 1} trailing', '{"status": "SUCCESS", "result": [1, 2']


def reproduce(make_backend):
    from _run import plant, read_not_naming

    backend = make_backend()
    for payload in PAYLOADS:
        task_id = str(uuid.uuid4())
        backend.store_result(task_id, {"v": 1}, states.STARTED)   # the record exists
        plant(backend, task_id, payload)
        problem = read_not_naming(lambda: backend.get_task_meta(task_id, cache=False), task_id,
                                  f"reading a record planted as {payload!r}")
        if problem:
            return problem
    return None


if __name__ == "__main__":
    from _run import main

    main(reproduce)
