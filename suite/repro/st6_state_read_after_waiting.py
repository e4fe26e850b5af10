"""ST6 (through a worker): a client that has waited for one result still reads
the state of its other tasks as the worker writes them (here STARTED), not
PENDING."""

import uuid

from celery import states
from celery.result import AsyncResult

CLAUSE = "ST6"
TESTS = ("test_a_started_task_reads_started_with_its_worker",)


def reproduce(make_backend):
    from _run import reply_to_sender

    client, worker = make_backend(), make_backend()
    if callable(getattr(worker, "destination_for", None)):
        # results are messages: the worker's writes are replies to the client
        reply_to_sender(worker, client)
    waited, running = str(uuid.uuid4()), str(uuid.uuid4())
    worker.store_result(waited, 1, states.SUCCESS)
    AsyncResult(waited, app=client.app, backend=client).get(timeout=10)
    worker.store_result(running, {"pid": 1, "hostname": "h"}, states.STARTED)
    meta = client.get_task_meta(running)
    if meta["status"] != states.STARTED:
        return (f"after the client waited for one result (AsyncResult.get), a task the "
                f"worker marked STARTED reads {meta['status']}")
    return None


if __name__ == "__main__":
    from _run import main

    main(reproduce)
