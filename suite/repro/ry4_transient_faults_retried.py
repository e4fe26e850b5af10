"""RY4: real transient faults are retried: with result_backend_always_retry,
an operation whose connections are reset, and whose new connections are
refused for a while, succeeds once the server answers again (0.6 s later)."""

import uuid

from celery import states

CLAUSE = "RY4"
TESTS = ("test_real_transient_faults_are_retried_until_the_server_answers",)

FAULT_S = 0.6


def reproduce(make_backend):
    from _run import through_fault_proxy

    proxied, proxy = through_fault_proxy(make_backend)
    if proxied is None:
        return None  # an embedded store: no connection to break
    try:
        backend = proxied(result_backend_always_retry=True, result_backend_max_retries=30,
                          result_backend_base_sleep_between_retries_ms=50,
                          result_backend_max_sleep_between_retries_ms=300)
        task_id = str(uuid.uuid4())
        backend.store_result(task_id, {"v": "before"}, states.SUCCESS)
        backend.get_task_meta(task_id, cache=False)   # connections are open now
        operations = {
            "get_task_meta": lambda: backend.get_task_meta(task_id, cache=False),
            "store_result": lambda: backend.store_result(
                str(uuid.uuid4()), {"v": "after"}, states.SUCCESS),
        }
        for name, operation in operations.items():
            proxy.reset()
            proxy.refuse()
            proxy.heal_after(FAULT_S)
            try:
                operation()
            except Exception as exc:
                return (f"{name} raised {type(exc).__name__}: {str(exc)[:200]} although the "
                        f"server answered again {FAULT_S}s later (its connections were reset "
                        f"and new ones refused meanwhile), with result_backend_always_retry")
            finally:
                proxy.heal()
    finally:
        proxy.close()
    return None


if __name__ == "__main__":
    from _run import main

    main(reproduce)
