"""End-to-end timings through a real worker, per backend and store.

    python bench/end_to_end.py [--targets sqlite,celery-database@sqlite,...] [--rounds 3]

Not part of the test run: figures depend on the machine. For each target
(``--backend`` names) it starts the stores (or reuses them, via
CELERY_CONFORMANCE_*_URL), a Redis broker and a prefork worker with 2
processes (suite/worker.py), then times, from the client: a chord of 10
members (sent to its body's result), and 100 single tasks sent at once and
all awaited; tasks per second is 100 over that time. The client polls
results every 10 ms (Celery's default of 0.5 s would dominate the figures). Medians of --rounds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from celery import chord  # noqa: E402

from celery_conformance.containers import obtain, providers  # noqa: E402
from celery_conformance.suite.targets import resolve  # noqa: E402
from celery_conformance.suite.worker import redacting_worker, worker_settings  # noqa: E402

CHORD_MEMBERS = 10
SINGLE_TASKS = 100
# Celery polls a result every 0.5 s by default, which would quantize every
# figure to half seconds; poll often so the figures time the backend.
POLL_S = 0.01
DEFAULT_TARGETS = ("sqlite,postgresql,mysql,arangodb,cosmosdb,celery-database@sqlite,"
                   "celery-database@postgresql,celery-database@mysql,celery-arangodb,"
                   "celery-cosmosdbsql,celery-redis,celery-cache,celery-filesystem")


def time_chord(worker) -> float:
    started = time.perf_counter()
    result = chord([worker.signature("add", i, 0) for i in range(CHORD_MEMBERS)])(
        worker.signature("collect"))
    assert result.get(timeout=120, interval=POLL_S) == list(range(CHORD_MEMBERS))
    return time.perf_counter() - started


def time_singles(worker) -> float:
    started = time.perf_counter()
    results = [worker.signature("add", i, 1).apply_async() for i in range(SINGLE_TASKS)]
    assert [r.get(timeout=120, interval=POLL_S) for r in results] == [i + 1 for i in range(SINGLE_TASKS)]
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", default=DEFAULT_TARGETS)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", metavar="PATH", help="also write the table as JSON")
    args = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="bench-e2e-")
    targets = [t for value in args.targets.split(",") for t in resolve(value, None)]
    stores: dict = {}

    def store(name):
        if name not in stores:
            stores[name] = obtain(providers()[name], workdir)
        return stores[name]

    rows = []
    try:
        broker = store("redis")
        for target in targets:
            ns, broker_ns = store(target.store).create_namespace("bench"), \
                broker.create_namespace("bench-broker")
            worker = redacting_worker(worker_settings(target.spec.backend, ns, broker_ns),
                                      "prefork", tempfile.mkdtemp(dir=workdir), ns, broker_ns)
            try:
                time_chord(worker), time_singles(worker)      # warm up
                chords = [time_chord(worker) for _ in range(args.rounds)]
                singles = [time_singles(worker) for _ in range(args.rounds)]
            finally:
                worker.stop()
                store(target.store).drop_namespace(ns)
                broker.drop_namespace(broker_ns)
            row = {"target": target.id, "worker_start_s": round(worker.start_seconds, 2),
                   f"chord_{CHORD_MEMBERS}_s": round(statistics.median(chords), 3),
                   f"tasks_{SINGLE_TASKS}_s": round(statistics.median(singles), 3),
                   "tasks_per_s": round(SINGLE_TASKS / statistics.median(singles), 1)}
            rows.append(row)
            print(f"{row['target']:<36} chord of {CHORD_MEMBERS}: "
                  f"{row[f'chord_{CHORD_MEMBERS}_s']:6.3f} s   {SINGLE_TASKS} tasks: "
                  f"{row[f'tasks_{SINGLE_TASKS}_s']:6.3f} s   {row['tasks_per_s']:7.1f} tasks/s   "
                  f"(worker ready in {row['worker_start_s']:.1f} s)", flush=True)
    finally:
        for s in stores.values():
            s.stop()
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
