"""BI5: a malformed group record written straight into the store (garbage
after valid JSON) makes restore_group of that id raise an error naming the id."""

import uuid

CLAUSE = "BI5"
TESTS = ("test_garbage_group_record_raises_naming_the_id",)

PAYLOAD = '{"a": 1} trailing'


def reproduce(make_backend):
    from celery.result import AsyncResult, GroupResult
    from _run import plant, read_not_naming

    backend = make_backend()
    group_id = str(uuid.uuid4())
    backend.save_group(group_id, GroupResult(group_id, [AsyncResult(str(uuid.uuid4()))]))
    plant(backend, group_id, PAYLOAD, group=True)
    return read_not_naming(lambda: backend.restore_group(group_id, cache=False), group_id,
                           f"restoring a group record planted as {PAYLOAD!r}")

if __name__ == "__main__":
    from _run import main

    main(reproduce)
