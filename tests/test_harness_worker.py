"""The end-to-end harness (suite/worker.py): a real worker per target and
module, judging backends through the tasks it runs, on either broker."""

from __future__ import annotations

import pytest


def test_a_backend_that_alters_results_fails_the_chord_clause_through_the_worker(harness):
    """The worker imports the backend class the user names; a backend whose
    stored SUCCESS values differ from the task's return values fails CH1, and
    the failure carries the worker's log."""
    harness.write("altering.py", """
        import dataclasses

        from celery import states

        from celery_conformance.backends.database import DatabaseBackend
        from celery_conformance.suite.targets import SPECS

        class Altering(DatabaseBackend):
            def store_result(self, task_id, result, state, *args, **kwargs):
                if state == states.SUCCESS and isinstance(result, int):
                    result += 1
                return super().store_result(task_id, result, state, *args, **kwargs)

        SPEC = dataclasses.replace(SPECS["reference-database"], name="altering",
                                   backend="altering:Altering", stores=("sqlite",))
    """)
    result = harness.run_contract("test_end_to_end", args=(
        "--backend=altering:SPEC@sqlite", "-k", "header_results_in_order"), subprocess=True)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*the chord body got*", "*celery worker log, prefork pool*",
                                 "*conformance.collect*succeeded*"])


def test_the_worker_runs_chords_over_rabbitmq_as_its_broker(harness):
    """--worker-broker=rabbitmq: the same worker, its tasks carried by RabbitMQ."""
    result = harness.run_contract("test_end_to_end", args=(
        "--backend=sqlite", "--worker-broker=rabbitmq", "-k",
        "header_results_in_order or failing_header"), subprocess=True)
    result.assert_outcomes(passed=2)


def test_passwords_of_the_worker_urls_are_redacted_from_its_log():
    from celery_conformance.suite.worker import _passwords

    found = _passwords("postgresql://u:s%2Fecret@h/db", "redis://127.0.0.1:6379/1",
                       "not a url")
    assert "s%2Fecret" in found and "s/ecret" in found
    text = "connect postgresql://u:s/ecret@h/db and s%2Fecret"
    for secret in found:
        text = text.replace(secret, "***")
    assert "ecret" not in text


def test_a_backend_that_keeps_its_chord_counter_fails_ch3(harness):
    """Celery's cache backend with a delete() that spares chord counters:
    the counter outlives the chord, and CH3 says so."""
    harness.write("keeper.py", """
        import dataclasses

        from celery.backends.cache import CacheBackend

        from celery_conformance.suite.targets import SPECS

        class CounterKeeper(CacheBackend):
            def delete(self, key):
                if key.startswith(self.chord_keyprefix):
                    return None
                return super().delete(key)

        SPEC = dataclasses.replace(SPECS["celery-cache"], name="keeper",
                                   backend="keeper:CounterKeeper", known_failures=())
    """)
    result = harness.run_contract("test_end_to_end", args=(
        "--backend=keeper:SPEC", "-k", "extra_chord_part_returns"), subprocess=True)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*the chord counter is still stored*"])


def test_the_end_to_end_benchmark_runs_and_writes_its_table(tmp_path):
    """bench/end_to_end.py (not part of the test run) times a chord and 100
    tasks through a worker; here once, on SQLite, to see that it works."""
    import json
    import subprocess
    import sys

    from tests.conftest import ROOT

    out = tmp_path / "e2e.json"
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "end_to_end.py"), "--targets",
                           "sqlite", "--rounds", "1", "--json", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    (row,) = json.loads(out.read_text())
    assert row["target"] == "sqlite" and row["chord_10_s"] > 0 and row["tasks_per_s"] > 0
    assert "tasks/s" in done.stdout


def test_a_worker_configured_by_the_entry_point_url_runs_a_chord(tmp_path):
    """A user's worker names the reference backend by its URL scheme
    (``conformance_db+sqlite://``, the celery.result_backends entry point),
    not by class path: it runs a chord whose results the client reads."""
    from celery import chord

    from celery_conformance.containers import Namespace, obtain, providers
    from celery_conformance.suite.worker import redacting_worker, worker_settings

    broker = obtain(providers()["redis"], str(tmp_path))
    broker_ns = broker.create_namespace("entry-point")
    results = Namespace(name="results", url=f"sqlite:///{tmp_path / 'results.db'}",
                        store=None)
    settings = worker_settings("unused:Class", results, broker_ns)
    settings["result_backend"] = f"conformance_db+{results.url}"
    worker = redacting_worker(settings, "prefork", str(tmp_path), results, broker_ns)
    try:
        body = chord([worker.signature("add", i, 1) for i in range(4)])(
            worker.signature("collect"))
        assert body.get(timeout=60) == [1, 2, 3, 4]
        # the body ran in the worker, which stored its result through the
        # backend the scheme named; the client's app resolved it the same way
        assert type(worker.app.backend).__module__ == "celery_conformance.backends.database"
    finally:
        worker.stop()
        broker.drop_namespace(broker_ns)
        broker.stop()
