"""Every declared divergence has a standalone reproduction that shows it.

A reproduction (suite/repro/NAME.py) runs with nothing but Celery and the
store's driver. For every known failure of every registered spec it must
show the divergence on that built-in, on that store (exit 1), and hold on the
reference backend of the same store where there is one (exit 0), so that a
maintainer can attach it to an upstream bug as it is.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys

import pytest

from celery_conformance.suite.clauses import CLAUSES
from celery_conformance.suite.repro.catalogue import reproductions, reproductions_for, script_path
from celery_conformance.suite.targets import SPECS, STORE_ALIASES

FOUND = reproductions()
DECLARED = [(spec, kf) for spec in SPECS.values() for kf in spec.known_failures]

#: (spec name, store, reproduction) for every declared divergence
RUNS = sorted({(spec.name, store, name)
               for spec, kf in DECLARED
               for store in spec.stores if not kf.stores or store in kf.stores
               for name in reproductions_for(kf, FOUND)})
#: the same reproductions on the reference backend of each store
REFERENCE_RUNS = sorted({(STORE_ALIASES[store][0].name, store, name)
                         for _, store, name in RUNS if store in STORE_ALIASES})


def test_every_known_failure_has_a_reproduction():
    missing = [f"{spec.name}: {kf.clause} {kf.test} ({kf.reason[:60]}...)"
               for spec, kf in DECLARED if not reproductions_for(kf, FOUND)]
    assert not missing, "known failures without a reproduction:\n" + "\n".join(missing)


@pytest.mark.parametrize("name", sorted(FOUND))
def test_every_reproduction_names_its_clause_and_contract_tests(name):
    import importlib
    import pkgutil

    from celery_conformance import suite

    module = FOUND[name]
    assert module.CLAUSE in CLAUSES, f"{name}: unknown clause {module.CLAUSE!r}"
    assert module.__doc__ and module.__doc__.startswith(module.CLAUSE), (
        f"{name}: the docstring must state the guarantee, starting with the clause id")
    tests = set()
    for info in pkgutil.iter_modules(suite.__path__):
        if info.name.startswith("test_"):
            tests |= set(vars(importlib.import_module(f"celery_conformance.suite.{info.name}")))
    unknown = [t for t in module.TESTS if t not in tests]
    assert module.TESTS and not unknown, f"{name}: TESTS names no contract test {unknown}"


@pytest.fixture(scope="module")
def broker():
    """Stores started once for this module, in a directory of their own (a
    server run as another user, PostgreSQL's, must be able to reach it)."""
    from celery_conformance.suite.stores import StoreBroker

    stores = StoreBroker(None)
    yield stores
    stores.stop_all()


@pytest.fixture(scope="module")
def zygote():
    """Each reproduction runs as a script of its own, in a child forked from
    one process that imported Celery and the drivers once."""
    from tests._zygote import Zygote

    forking = Zygote()
    yield forking
    forking.close()


def run_reproduction(broker, zygote, name: str, spec_name: str, store: str):
    from celery_conformance.containers import StoreUnavailable

    try:
        server = broker.get(store)
    except StoreUnavailable as exc:
        pytest.skip(f"not run: {exc}")
    namespace = server.create_namespace("repro")
    settings = {**namespace.settings, **namespace.trust_settings}
    # concurrency reproductions run under the store's contention mode (on the
    # emulated ArangoDB, overlapping writers meet conflicts every time)
    contention = server.contention(namespace) if name.startswith("cc") else \
        contextlib.nullcontext()
    try:
        # the URL and settings (passwords, keys) go through the environment,
        # never the process list
        env = {**os.environ, "CELERY_CONFORMANCE_BACKEND_URL": namespace.url,
               "CELERY_CONFORMANCE_REPRO_SETTINGS": json.dumps(settings)}
        with contention:
            return zygote.run([script_path(name), SPECS[spec_name].backend, "-", "-"],
                              env, timeout=600)
    finally:
        server.drop_namespace(namespace)


@pytest.mark.parametrize("spec_name, store, name", RUNS)
def test_reproduction_shows_the_divergence(broker, zygote, spec_name, store, name):
    done = run_reproduction(broker, zygote, name, spec_name, store)
    assert done.returncode == 1 and "DIVERGES" in done.stdout, (
        f"{name} did not show the divergence declared for {spec_name} on {store} "
        f"(exit {done.returncode}):\n{done.stdout}{done.stderr[-3000:]}")


@pytest.mark.parametrize("spec_name, store, name", REFERENCE_RUNS)
def test_reproduction_holds_on_the_reference_backend(broker, zygote, spec_name, store, name):
    done = run_reproduction(broker, zygote, name, spec_name, store)
    assert done.returncode == 0 and "HOLDS" in done.stdout, (
        f"{name} fails on the reference backend {spec_name} on {store} "
        f"(exit {done.returncode}):\n{done.stdout}{done.stderr[-3000:]}")


def test_repro_dir_writes_a_standalone_script_for_each_failing_clause(harness, tmp_path):
    """``--repro-dir DIR`` writes, for every failing clause of the run, a
    single-file reproduction that runs with Celery alone (no suite on the
    path) and shows the divergence."""
    out = tmp_path / "repros"
    result = harness.run_contract("test_expiry", args=(
        "--backend=celery-database@sqlite", "-k", "expiry_disabled", f"--repro-dir={out}"))
    result.assert_outcomes(xfailed=2)
    script = out / "celery-database_sqlite" / "xp3_cleanup_with_expiry_disabled.py"
    assert script.is_file()
    assert "expiry_disabled" in (out / "celery-database_sqlite" / "README.txt").read_text()
    alone = tmp_path / "alone"
    alone.mkdir()
    (alone / script.name).write_text(script.read_text())
    done = subprocess.run(
        [sys.executable, "-I", script.name, "celery.backends.database:DatabaseBackend",
         f"sqlite:///{alone}/results.db"], cwd=alone, capture_output=True, text=True,
        timeout=120, env={"PATH": "/usr/bin:/bin"})
    assert done.returncode == 1 and "DIVERGES from XP3" in done.stdout, done.stderr[-2000:]


def test_a_script_run_by_the_zygote_behaves_as_run_by_python(tmp_path):
    """The forking runner gives a script its own argv, environment, stdout,
    stderr and exit status, as ``python SCRIPT ARGS`` would, and nothing a
    script sets reaches the next one."""
    from tests._zygote import Zygote

    script = tmp_path / "script.py"
    script.write_text(
        "import os, sys\n"
        "import json\n"
        "print(json.dumps([sys.argv[1:], os.environ.get('ZYGOTE_TEST'), __name__,\n"
        "                  getattr(json, 'touched', False)]))\n"
        "json.touched = True\n"
        "print('to stderr', file=sys.stderr)\n"
        "sys.exit(int(sys.argv[1]))\n")
    forking = Zygote()
    try:
        first = forking.run([script, "3", "x"], {"ZYGOTE_TEST": "one"}, timeout=60)
        second = forking.run([script, "0"], {"PATH": "/usr/bin"}, timeout=60)
    finally:
        forking.close()
    assert (first.returncode, json.loads(first.stdout)) == (3, [["3", "x"], "one", "__main__",
                                                                False])
    assert first.stderr == "to stderr\n"
    assert (second.returncode, json.loads(second.stdout)) == (0, [["0"], None, "__main__", False])
