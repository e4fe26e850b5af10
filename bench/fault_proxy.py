"""What the harness's own machinery costs a backend: the fault proxy, and the
PostgreSQL statement deadline of the reference database backend.

    python bench/fault_proxy.py [--stores postgresql,mysql,redis,arangodb,cosmosdb] [--n 300]

Not part of the test run: figures depend on the machine. For each store it
times store_result and get_task_meta of the store's reference backend (or
Celery's built-in where there is none) straight to the server and through a
FaultProxy that injects nothing; the fault tests run at the second pace. On
PostgreSQL it also times the reference backend with its statement deadline
(a timer armed per statement, see backends/database.py) switched off.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from celery import states  # noqa: E402

from store_throughput import build, rate  # noqa: E402

from celery_conformance.containers import obtain, providers  # noqa: E402
from celery_conformance.containers.faults import FaultProxy  # noqa: E402
from celery_conformance.suite.targets import SPECS, STORE_ALIASES  # noqa: E402


def backend_path(store: str) -> str:
    if store in STORE_ALIASES:
        return STORE_ALIASES[store][0].backend
    return next(s.backend for s in SPECS.values() if store in s.stores)


def measure(backend, n: int) -> dict:
    ids = [str(uuid.uuid4()) for _ in range(n)]
    backend.store_result(str(uuid.uuid4()), 0, states.SUCCESS)   # tables, connections
    return {"store_result/s": rate(lambda i: backend.store_result(i, {"v": i}, states.SUCCESS),
                                   ids),
            "get_task_meta/s": rate(lambda i: backend.get_task_meta(i, cache=False), ids)}


def best_of(repeat: int, run) -> dict:
    best: dict = {}
    for _ in range(repeat):
        for metric, value in run().items():
            best[metric] = max(best.get(metric, 0.0), value)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", default="postgresql,mysql,redis,arangodb,cosmosdb")
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="bench-")
    for name in args.stores.split(","):
        store = obtain(providers()[name], workdir)
        path = backend_path(name)
        try:
            address = store.network_address()
            if address is None:
                print(f"\n{store.describe()}: embedded, no connection to proxy")
                continue

            def run(via_proxy: bool, **conf) -> dict:
                ns = store.create_namespace("bench")
                proxy = FaultProxy(address[1]) if via_proxy else None
                try:
                    target = store.through(ns, proxy.port) if proxy else ns
                    backend = build_with(path, target, conf)
                    out = measure(backend, args.n)
                    getattr(backend, "close", lambda: None)()
                    return out
                finally:
                    if proxy is not None:
                        proxy.close()
                    store.drop_namespace(ns)

            rows = {"direct": best_of(args.repeat, lambda: run(False)),
                    "through the proxy": best_of(args.repeat, lambda: run(True))}
            if name == "postgresql" and path.startswith("celery_conformance."):
                rows["no statement deadline"] = best_of(args.repeat, lambda: run(
                    False, database_engine_options={"connect_args": {"tcp_user_timeout": 0}}))
            print(f"\n{store.describe()}  {path}  (best of {args.repeat} rounds of {args.n})")
            for label, figures in rows.items():
                print(f"  {label:<24}" + "   ".join(f"{m} {v:8.0f}" for m, v in figures.items()))
        finally:
            store.stop()


def build_with(path: str, ns, conf: dict):
    """``build`` with extra Celery settings (none: as ``build``)."""
    import dataclasses

    return build(path, dataclasses.replace(ns, settings={**ns.settings, **conf}))


if __name__ == "__main__":
    main()
