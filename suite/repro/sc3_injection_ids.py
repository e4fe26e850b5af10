"""SC3: ids and states such as x' OR '1'='1 or " RETURN 1 // reach the store
only as bound parameters: each id round-trips its own result, state and
group as plain data, no other record changes, and forgetting one leaves the
others."""

import uuid

from celery import states
from celery.result import AsyncResult, GroupResult

CLAUSE = "SC3"
TESTS = ("test_injection_ids_and_states_round_trip_as_data",)

INJECTIONS = [("x' OR '1'='1", '" RETURN 1 //'),
              ("'; DELETE FROM celery_taskmeta; --", "?:task_id$1"),
              ('"); DROP TABLE celery_taskmeta; --', "%s%s%(task_id)s"),
              ('{"$ne": null}', "*/ /* ' || ' `\\'")]


def reproduce(make_backend):
    backend = make_backend()
    canary = str(uuid.uuid4())
    backend.store_result(canary, {"canary": True}, states.SUCCESS)
    records = {f"{head}{uuid.uuid4().hex}{tail}": head for head, tail in INJECTIONS}
    try:
        for task_id, state in records.items():
            backend.store_result(task_id, {"id": task_id}, state)
            backend.save_group(task_id, GroupResult(
                task_id, [AsyncResult(task_id, app=backend.app)], app=backend.app))
        for task_id, state in records.items():
            meta = backend.get_task_meta(task_id, cache=False)
            if (meta["status"], meta["result"]) != (state, {"id": task_id}):
                return (f"id {task_id!r} stored with state {state!r} reads back "
                        f"{meta['status']!r} {meta['result']!r}, not its own record")
            group = backend.restore_group(task_id, cache=False)
            if group is None or group.id != task_id:
                return f"group id {task_id!r} does not read back its own group: {group!r}"
    except Exception as exc:
        return (f"storing or reading injection-like ids and states as data raised "
                f"{type(exc).__name__}: {' '.join(str(exc).split())}"[:300])
    if backend.get_task_meta(canary, cache=False)["result"] != {"canary": True}:
        return "writing injection-like ids changed another record"
    first, *others = records
    backend.forget(first)
    if backend.get_task_meta(first, cache=False)["status"] != states.PENDING:
        return f"forget({first!r}) left its record"
    for other in others + [canary]:
        if backend.get_task_meta(other, cache=False)["status"] == states.PENDING:
            return f"forget({first!r}) removed {other!r} too"
    return None


if __name__ == "__main__":
    from _run import main

    main(reproduce)
