"""GR6: saving something that is not a GroupResult fails, at save_group or at
restore_group, with a TypeError or ValueError saying a GroupResult was
expected; it never restores as a GroupResult or any other result object."""

import uuid

from celery.result import AsyncResult, ResultBase

CLAUSE = "GR6"
TESTS = ("test_saving_a_non_group_fails_clearly_and_never_restores_a_group",)


def _check(backend, value):
    group_id = str(uuid.uuid4())
    for step in ("save_group", "restore_group"):
        try:
            if step == "save_group":
                backend.save_group(group_id, value)
            else:
                restored = backend.restore_group(group_id, cache=False)
        except (TypeError, ValueError) as exc:
            if "GroupResult" in str(exc):
                return None
            return f"{step} of {value!r} raised {type(exc).__name__}: {exc}, not saying why"
        except Exception as exc:
            return (f"{step} of {value!r} (not a GroupResult) raised {type(exc).__name__}: "
                    f"{exc}, not a TypeError or ValueError saying a GroupResult was expected")
    if isinstance(restored, ResultBase):
        return (f"save_group of {value!r} (not a GroupResult) was accepted and restore_group "
                f"returned the result object {restored!r}")
    return (f"save_group of {value!r} (not a GroupResult) was accepted and restore_group "
            f"returned {restored!r} instead of raising")


def reproduce(make_backend):
    backend = make_backend()
    gid, cid = str(uuid.uuid4()), str(uuid.uuid4())
    for value in ([gid, [[cid, None]]],                  # GroupResult.as_tuple() as a list
                  {"id": gid, "results": [cid]},
                  AsyncResult(cid, app=backend.app)):    # a result, but not a group
        divergence = _check(backend, value)
        if divergence:
            return divergence
    return None


if __name__ == "__main__":
    from _run import main

    main(reproduce)
