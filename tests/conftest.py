"""Shared fixtures for the harness's own tests (the plugin's plumbing)."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: the repository's conftest: loads the plugin unless the pytest11 entry point does
ROOT_CONFTEST = (ROOT / "conftest.py").read_text()

SETTINGS_ENV_PREFIX = "CELERY_CONFORMANCE_"


class Harness:
    """A pytester directory wired like this repository."""

    def __init__(self, pytester) -> None:
        self.pytester = pytester
        self.path = pytester.path

    def run(self, *args, subprocess: bool = False):
        """Run pytest there: in-process by default (fast, and monkeypatches in
        this test apply), or in a fresh interpreter with ``subprocess=True``."""
        args = ("-p", "no:cacheprovider", "-p", "no:benchmark", *args)
        if subprocess:
            return self.pytester.runpytest_subprocess(*args, timeout=120)
        return self.pytester.runpytest_inprocess(*args)

    def run_contract(self, *modules: str, args=(), subprocess: bool = False):
        """Run contract modules of this repository's suite/ (``test_expiry``)
        from the harness directory, with ``args`` (``--backend=...``, ``-k``)."""
        paths = [str(ROOT / "suite" / f"{m}.py") for m in modules]
        return self.run(*paths, "-p", "no:randomly", *args, subprocess=subprocess)

    def write(self, name: str, source: str) -> Path:
        path = self.path / name
        path.write_text(textwrap.dedent(source))
        return path


@pytest.fixture
def harness(pytester, monkeypatch):
    """A pytester directory whose runs load the plugin exactly as this
    repository's do: through the ``pytest11`` entry point when the package is
    installed, else through the same conftest as the repository's root. The
    caller's CELERY_CONFORMANCE_* and HYPOTHESIS_PROFILE do not leak in."""
    from hypothesis import settings

    for var in list(os.environ):
        if var.startswith(SETTINGS_ENV_PREFIX) or var == "HYPOTHESIS_PROFILE":
            monkeypatch.delenv(var)
    paths = [str(ROOT), str(pytester.path)]
    if os.environ.get("PYTHONPATH"):
        paths.append(os.environ["PYTHONPATH"])
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(paths))
    pytester.syspathinsert()
    pytester.makeconftest(ROOT_CONFTEST)
    profile = settings.get_current_profile_name()
    try:
        yield Harness(pytester)
    finally:
        # an in-process run loads the profile it was given; put ours back
        settings.load_profile(profile)


@pytest.fixture
def fresh_engine_probe():
    """container_engine() is cached per process; start and end with it empty."""
    from celery_conformance.containers import container_engine

    container_engine.cache_clear()
    yield container_engine
    container_engine.cache_clear()
