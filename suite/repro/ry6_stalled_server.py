"""RY6: no operation blocks forever on a stalled server (one that accepts
connections and never answers): with finite retries, store_result and
get_task_meta return or raise within the bound the backend documents
(operation_bound())."""

import threading
import time
import uuid

from celery import states

CLAUSE = "RY6"
TESTS = ("test_no_operation_blocks_past_its_bound_on_a_stalled_server",)

#: the reference backends' timeout settings, made short (other backends ignore them)
QUICK = {"database_connect_timeout": 1, "database_operation_timeout": 2,
         "cosmosdbsql_connection_timeout": 1, "cosmosdbsql_read_timeout": 2,
         "cosmosdbsql_max_retry_wait_time": 0, "cosmosdbsql_endpoint_discovery": False,
         "arangodb_backend_settings": {"timeout": 2}}
UNDOCUMENTED_WAIT_S = 5.0
SLACK_S = 2.0


def reproduce(make_backend):
    from _run import through_fault_proxy

    proxied, proxy = through_fault_proxy(make_backend)
    if proxied is None:
        return None  # an embedded store: no connection to stall
    try:
        settings = dict(QUICK)
        given = make_backend.settings.get("arangodb_backend_settings")
        if isinstance(given, dict):
            settings["arangodb_backend_settings"] = {**given, **QUICK["arangodb_backend_settings"]}
        backend = proxied(result_backend_always_retry=True, result_backend_max_retries=1,
                          **settings)
        task_id = str(uuid.uuid4())
        backend.store_result(task_id, {"v": 1}, states.SUCCESS)
        backend.get_task_meta(task_id, cache=False)
        documented = getattr(backend, "operation_bound", None)
        bound = documented() if callable(documented) else None
        proxy.stall()
        outcome = {}

        def run():
            started = time.monotonic()
            try:
                backend.store_result(str(uuid.uuid4()), {"v": 2}, states.SUCCESS)
                outcome["result"] = "returned"
            except Exception as exc:
                outcome["result"] = f"raised {type(exc).__name__}"
            outcome["seconds"] = time.monotonic() - started

        worker = threading.Thread(target=run, daemon=True)
        worker.start()
        worker.join((bound if bound is not None else UNDOCUMENTED_WAIT_S) + SLACK_S)
        blocked = worker.is_alive()
    finally:
        proxy.close()
    if bound is None:
        return ("the backend documents no bound for one operation (no operation_bound()); "
                "against a stalled server store_result "
                + (f"was still blocked after {UNDOCUMENTED_WAIT_S + SLACK_S:.0f}s" if blocked
                   else f"{outcome['result']} after {outcome['seconds']:.1f}s"))
    if blocked:
        return (f"against a stalled server store_result was still blocked "
                f"{bound + SLACK_S:.1f}s in, past its documented bound of {bound:.1f}s")
    return None


if __name__ == "__main__":
    from _run import main

    main(reproduce)
