"""GR2: after delete_group(gid) restore_group(gid) is None; deleting it
again, or deleting an id never saved, does not raise."""

import uuid

from celery.result import AsyncResult, GroupResult

CLAUSE = "GR2"
TESTS = ("test_deleted_group_restores_as_none_and_delete_is_idempotent",)


def reproduce(make_backend):
    backend = make_backend()
    app = backend.app
    group_id = str(uuid.uuid4())
    backend.save_group(group_id, GroupResult(group_id, [AsyncResult(str(uuid.uuid4()), app=app)],
                                             app=app))
    if backend.restore_group(group_id, cache=False) is None:
        return "a saved group does not restore (precondition)"
    backend.delete_group(group_id)
    if backend.restore_group(group_id, cache=False) is not None:
        return "after delete_group(gid) restore_group(gid) still returns the group"
    for what, gid in (("a second delete_group of the same id", group_id),
                      ("delete_group of an id never saved", str(uuid.uuid4()))):
        try:
            backend.delete_group(gid)
        except Exception as exc:
            return f"{what} raised {type(exc).__name__}: {exc}"
    if backend.restore_group(group_id, cache=False) is not None:
        return "a deleted group restores again after a second delete_group"
    return None


if __name__ == "__main__":
    from _run import main

    main(reproduce)
