"""Operations per second of a backend on a store, against Celery's built-in.

    python bench/store_throughput.py [--stores sqlite,postgresql,mysql,cosmosdb] [--n 300]

Not part of the test run: figures depend on the machine. For each store it
starts (or reuses, via CELERY_CONFORMANCE_*_URL) a server, then times
store_result on new ids, STARTED-then-SUCCESS on one id, get_task_meta,
mget of 100 keys (key-value backends) and forget, for the store's reference
backend and for Celery's built-in on the same server (suite.targets).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from celery import Celery, states  # noqa: E402
from celery.utils.imports import symbol_by_name  # noqa: E402

from celery_conformance.containers import obtain, providers  # noqa: E402
from celery_conformance.suite.targets import SPECS, STORE_ALIASES  # noqa: E402

#: batches per mget measurement
MGET_KEYS = 100


def backends_for(store: str) -> dict:
    """{"reference": class path, "celery": class path} for ``store``."""
    reference = STORE_ALIASES[store][0]
    celery = next(s for s in SPECS.values()
                  if store in s.stores and s.backend.startswith("celery."))
    return {"reference": reference.backend, "celery": celery.backend}


def build(path: str, ns):
    app = Celery("bench", set_as_current=False)
    app.conf.update(result_backend=f"{path}+{ns.url}", result_serializer="json",
                    **ns.settings, **ns.trust_settings)
    return symbol_by_name(path)(app=app, url=ns.url)


def rate(fn, ids) -> float:
    start = time.perf_counter()
    for task_id in ids:
        fn(task_id)
    return len(ids) / (time.perf_counter() - start)


def measure(backend, n: int) -> dict:
    ids = [str(uuid.uuid4()) for _ in range(n)]
    backend.store_result(str(uuid.uuid4()), 0, states.SUCCESS)  # create tables, warm up
    out = {"store_result/s": rate(lambda i: backend.store_result(i, {"v": i}, states.SUCCESS), ids)}
    out["get_task_meta/s"] = rate(lambda i: backend.get_task_meta(i, cache=False), ids)

    def two_writes(i):
        backend.store_result(i + "-2", None, states.STARTED)
        backend.store_result(i + "-2", 1, states.SUCCESS)

    out["started+success/s"] = rate(two_writes, ids[: n // 2])
    if hasattr(backend, "mget"):
        keys = [backend.get_key_for_task(i) for i in ids[:MGET_KEYS]]
        # list(): some mget implementations (Celery's ArangoDB backend) are lazy generators
        out[f"mget({MGET_KEYS})/s"] = rate(lambda _: list(backend.mget(keys)),
                                           range(max(5, n // 20)))
    out["forget/s"] = rate(backend.forget, ids)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", default="sqlite,postgresql,mysql")
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3,
                        help="rounds, reference and Celery alternating; the best of each is shown")
    args = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="bench-")
    for name in args.stores.split(","):
        store = obtain(providers()[name], workdir)
        try:
            results: dict = {}
            for _ in range(args.repeat):
                for label, path in backends_for(name).items():
                    ns = store.create_namespace(label)
                    backend = build(path, ns)
                    for metric, value in measure(backend, args.n).items():
                        best = results.setdefault(label, {})
                        best[metric] = max(best.get(metric, 0.0), value)
                    getattr(backend, "close", lambda: None)()
                    store.drop_namespace(ns)
            print(f"\n{store.describe()}  (best of {args.repeat} rounds of {args.n})")
            for metric in results["reference"]:
                ref, cel = results["reference"][metric], results["celery"][metric]
                print(f"  {metric:<20} reference {ref:8.0f}   celery {cel:8.0f}   "
                      f"ratio {ref / cel:5.1f}x")
        finally:
            store.stop()


if __name__ == "__main__":
    main()
