"""RT9: request.group and request.parent_id of a stored result are readable
from its meta (group_id, parent_id), with and without result_extended."""

import uuid

from celery import states
from celery.app.task import Context

CLAUSE = "RT9"
TESTS = ("test_group_and_parent_ids_readable_from_meta",)


def reproduce(make_backend):
    for extended in (False, True):
        backend = make_backend(result_extended=extended)
        task_id, group_id, parent_id = (str(uuid.uuid4()) for _ in range(3))
        request = Context(id=task_id, task="repro.task", args=[], kwargs={},
                          hostname="worker@repro", retries=0, delivery_info={"routing_key": "q"},
                          ignore_result=False, group=group_id, parent_id=parent_id,
                          _children=[], stamps={}, stamped_headers=[])
        backend.store_result(task_id, "v", states.SUCCESS, request=request)
        meta = backend.get_task_meta(task_id, cache=False)
        got = (meta.get("group_id"), meta.get("parent_id"))
        if got != (group_id, parent_id):
            return (f"with result_extended={extended}, a result stored with request.group "
                    f"{group_id!r} and parent_id {parent_id!r} reads back group_id "
                    f"{got[0]!r} and parent_id {got[1]!r}")
    return None


if __name__ == "__main__":
    from _run import main

    main(reproduce)
