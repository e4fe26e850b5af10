"""RT6: children from the request (AsyncResult and GroupResult objects) come
back from AsyncResult(id).children as equal result objects."""

import uuid

from celery import states
from celery.result import AsyncResult, GroupResult

CLAUSE = "RT6"
TESTS = ("test_children_come_back_as_equal_result_objects",)


def reproduce(make_backend):
    from celery.app.task import Context

    backend = make_backend()
    app = backend.app
    group = GroupResult(str(uuid.uuid4()), [AsyncResult(str(uuid.uuid4()), app=app)],
                        app=app, backend=backend)
    children = [AsyncResult(str(uuid.uuid4()), app=app), group]
    task_id = str(uuid.uuid4())
    backend.store_result(task_id, "done", states.SUCCESS,
                         request=Context(id=task_id, _children=children))
    got = AsyncResult(task_id, backend=backend, app=app).children
    if got is None:
        meta = backend.get_task_meta(task_id, cache=False)
        return (f"a SUCCESS stored with an AsyncResult and a GroupResult as children "
                f"reads {meta['status']}, and AsyncResult(id).children is None")
    if [c.as_tuple() for c in got] != [c.as_tuple() for c in children]:
        return f"children changed: {got!r} vs {children!r}"
    return None


if __name__ == "__main__":
    from _run import main

    main(reproduce)
