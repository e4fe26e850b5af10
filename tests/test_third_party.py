"""Third-party use from installed wheels: the suite's wheel and an example
backend project's wheel in an empty virtual environment, the contract run
from a directory that is neither checkout."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from tests.conftest import ROOT

EXAMPLE = ROOT / "examples" / "memo-backend"


def run(cmd, cwd, timeout=900, env=None):
    done = subprocess.run([str(c) for c in cmd], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=env)
    assert done.returncode == 0, (f"{' '.join(map(str, cmd))} exited {done.returncode}:\n"
                                  f"{done.stdout[-4000:]}\n{done.stderr[-4000:]}")
    return done


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """An empty virtual environment holding the suite's wheel and the
    example backend's wheel (with their dependencies from the index): built
    once per run, by the first xdist worker to need it, the others waiting."""
    import fcntl

    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent          # the run's directory, above each worker's own
    base = shared / "third-party"
    with open(shared / "third-party.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (base / "ready").exists():
            shutil.rmtree(base, ignore_errors=True)     # a build that failed midway
            base.mkdir()
            _build(base)
            (base / "ready").write_text("")
    return base / "venv" / "bin" / "python", base


def _build(base: Path) -> None:
    wheels = base / "wheels"
    for project in (ROOT, EXAMPLE):
        # built from a copy: xdist workers building from the checkout at once
        # would share (and clobber) its build/ directory
        source = base / "src" / project.name
        shutil.copytree(project, source, ignore=shutil.ignore_patterns(
            ".venv", ".git", ".tox", "build", "*.egg-info", "reports", "__pycache__",
            "node_modules", ".hypothesis"))
        run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", wheels, source],
            cwd=base)
    env_dir = base / "venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    python = env_dir / "bin" / "python"
    run([python, "-m", "pip", "install", "-q", *sorted(wheels.glob("*.whl"))], cwd=base)


def clean_env() -> dict:
    """The environment without this checkout on any path."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTHON", "CELERY_CONFORMANCE_", "PYTEST_", "HYPOTHESIS"))}
    env["HYPOTHESIS_PROFILE"] = "ci"
    return env


def test_the_wheel_installs_under_one_import_name(installed):
    python, _ = installed
    site = run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
               cwd="/").stdout.strip()
    top = {p.name for p in Path(site).iterdir()}
    assert "celery_conformance" in top
    assert not {"suite", "backends", "containers"} & top, (
        f"generic top-level packages installed into site-packages: "
        f"{sorted({'suite', 'backends', 'containers'} & top)}")


def test_the_contract_runs_against_the_example_backend_from_any_directory(installed):
    python, base = installed
    workdir = base / "anywhere"
    (workdir / "store").mkdir(parents=True)
    done = run([python, "-m", "pytest", "-p", "no:cacheprovider", "-q",
                "--pyargs", "celery_conformance.suite",
                "--backend=memo_backend.conformance:SPEC",
                f"--backend-url=memo://{workdir / 'store' / 'results.db'}"],
               cwd=workdir, env=clean_env())
    assert "memo@url:" in done.stdout and " 0 broken" in done.stdout, done.stdout[-3000:]


def test_a_users_own_backends_package_does_not_break_the_reference_targets(installed):
    """A project with its own ``backends`` (or ``suite``) package still runs the
    reference backends: they live under celery_conformance."""
    python, base = installed
    project = base / "user-project"
    for name in ("backends", "suite", "containers"):
        (project / name).mkdir(parents=True, exist_ok=True)
        (project / name / "__init__.py").write_text("raise ImportError('the user\\'s own')\n")
    done = run([python, "-m", "pytest", "-p", "no:cacheprovider", "-q",
                "--pyargs", "celery_conformance.suite", "--backend=sqlite",
                "-k", "test_states"], cwd=project, env={**clean_env(), "PYTHONPATH": "."})
    assert "sqlite:" in done.stdout and " 0 broken" in done.stdout, done.stdout[-3000:]
