"""GR3: saving the same group id twice succeeds, and restore_group gives
the second save (last write wins)."""

import uuid

from celery.result import AsyncResult, GroupResult

CLAUSE = "GR3"
TESTS = ("test_saving_a_group_id_twice_last_write_wins",)


def reproduce(make_backend):
    backend = make_backend()
    app = backend.app
    group_id = str(uuid.uuid4())
    first, second = [str(uuid.uuid4())], [str(uuid.uuid4()), str(uuid.uuid4())]
    backend.save_group(group_id, GroupResult(group_id, [AsyncResult(c, app=app) for c in first],
                                             app=app))
    try:
        backend.save_group(group_id, GroupResult(
            group_id, [AsyncResult(c, app=app) for c in second], app=app))
    except Exception as exc:
        return (f"a second save_group of one group id raised {type(exc).__name__}: "
                f"{str(exc).splitlines()[0]}")
    restored = backend.restore_group(group_id, cache=False)
    if not isinstance(restored, GroupResult):
        return f"after two saves restore_group returned {restored!r}, not a GroupResult"
    children = [r.id for r in restored.results]
    if children != second:
        return (f"after two saves of one group id restore_group gives children {children}, "
                f"not those of the second save {second}")
    return None


if __name__ == "__main__":
    from _run import main

    main(reproduce)
