"""BI3: ids that differ only in letter case are different results: an id,
its upper-case and its swapped-case form each keep their own record."""

import uuid

from celery import states

CLAUSE = "BI3"
TESTS = ("test_ids_differing_only_in_case_are_different_results",)


def reproduce(make_backend):
    backend = make_backend()
    base = f"bi3-Case-{uuid.uuid4().hex}"
    ids = [base, base.upper(), base.lower(), base.swapcase()]
    for task_id in ids:
        backend.store_result(task_id, {"id": task_id}, states.SUCCESS)
    for task_id in ids:
        meta = backend.get_task_meta(task_id, cache=False)
        if meta["status"] != states.SUCCESS or meta["result"] != {"id": task_id}:
            return (f"after storing {{'id': id}} under {len(ids)} ids differing only in case, "
                    f"{task_id!r} was expected to read back its own value but read "
                    f"{meta['status']} {meta['result']!r}: the ids share one record")
    return None


if __name__ == "__main__":
    from _run import main

    main(reproduce)
