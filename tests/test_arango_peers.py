"""The emulated ArangoDB judged by its peers: pyArango's own test suite.

pyArango ships its tests in its source distribution (``pyArango/tests/tests.py``,
written against real ArangoDB servers). The sdist of the installed pyArango
version is downloaded from PyPI once (cached in ``~/.cache/celery-conformance``;
no code of it is kept in this repository) and its tests run against the
emulated server. Every one must pass, except those listed in
``arango_peers_outside_subset.toml``: tests of features outside the emulated
subset, each of which must fail loudly, with the ArangoDB-style error the file
names (404 unknown path, 501 not supported), never quietly.
"""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
import tarfile
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from test_arango_emulator import password, server  # noqa: F401

OUTSIDE_SUBSET = Path(__file__).with_name("arango_peers_outside_subset.toml")
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "celery-conformance"
PEER_TESTS = "pyArango/tests/tests.py"


def pyarango_sdist() -> Path:
    """The installed pyArango version's sdist, downloaded once."""
    version = importlib.metadata.version("pyArango")
    folder = CACHE / "peers"
    found = sorted(folder.glob(f"[Pp]y[Aa]rango-{version}.tar.gz"))
    if found:
        return found[0]
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary",
         ":all:", "--dest", str(folder), f"pyArango=={version}"],
        capture_output=True, text=True, timeout=300)
    found = sorted(folder.glob(f"[Pp]y[Aa]rango-{version}.tar.gz"))
    if done.returncode != 0 or not found:
        pytest.fail(f"could not download pyArango {version}'s sdist from PyPI (its own tests "
                    f"judge the emulated server): {done.stderr.strip()[-800:]}", pytrace=False)
    return found[0]


def outside_subset() -> dict:
    """test name -> {"shows": text its failure must contain, "reason": ...}."""
    entries = tomllib.loads(OUTSIDE_SUBSET.read_text())["outside_subset"]
    return {entry["test"]: entry for entry in entries}


@pytest.fixture(scope="module")
def peer_outcomes(server, password, tmp_path_factory):  # noqa: F811 - fixtures
    """test name -> (outcome, failure text) of pyArango's tests on the emulator."""
    sdist = pyarango_sdist()
    work = tmp_path_factory.mktemp("pyarango-peers")
    with tarfile.open(sdist) as archive:
        member = next(m for m in archive.getmembers() if m.name.endswith(PEER_TESTS))
        # only the test module: the installed pyArango is what is judged with it
        (work / "test_pyarango_peers.py").write_bytes(archive.extractfile(member).read())
    report = work / "junit.xml"
    env = {**os.environ, "ARANGODB_URL": server.base_url, "ARANGODB_ROOT_USERNAME": "root",
           "ARANGODB_ROOT_PASSWORD": password}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "-p", "no:celery_conformance", "-p", "no:xdist", "-p", "no:randomly",
         f"--junitxml={report}", "test_pyarango_peers.py"],
        cwd=work, capture_output=True, text=True, timeout=900, env=env)
    if not report.exists():
        pytest.fail(f"pyArango's tests did not run:\n{done.stdout[-2000:]}{done.stderr[-2000:]}",
                    pytrace=False)
    outcomes = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        problem = case.find("failure")
        if problem is None:
            problem = case.find("error")
        if case.find("skipped") is not None:
            outcomes[case.get("name")] = ("skipped", case.find("skipped").get("message", ""))
        elif problem is not None:
            outcomes[case.get("name")] = (
                "failed", f"{problem.get('message', '')}\n{problem.text or ''}")
        else:
            outcomes[case.get("name")] = ("passed", "")
    assert outcomes, f"no test of pyArango's ran:\n{done.stdout[-2000:]}"
    return outcomes


def test_pyarango_own_tests_pass_on_the_emulated_server(peer_outcomes):
    """Every test of pyArango's own suite outside the list passes."""
    listed = outside_subset()
    failed = {name: text for name, (outcome, text) in peer_outcomes.items()
              if outcome != "passed" and name not in listed}
    counts = {o: sum(1 for v, _ in peer_outcomes.values() if v == o)
              for o in ("passed", "failed", "skipped")}
    print(f"pyArango {importlib.metadata.version('pyArango')}'s own tests on the emulated "
          f"server: {counts['passed']} passed, {counts['failed']} failed "
          f"({len(listed)} listed as outside the subset), {counts['skipped']} skipped")
    assert not failed, "pyArango's own tests failing on the emulated server:\n" + "\n".join(
        f"- {name}: {text.strip().splitlines()[0] if text.strip() else ''}"[:400]
        for name, text in sorted(failed.items()))


def test_pyarango_tests_outside_the_subset_fail_loudly(peer_outcomes):
    """Each listed test still exists and fails with the documented error it
    names (a feature outside the subset is refused, never accepted quietly)."""
    problems = []
    for name, entry in sorted(outside_subset().items()):
        outcome, text = peer_outcomes.get(name, ("missing", ""))
        if outcome == "missing":
            problems.append(f"{name}: listed, but pyArango's suite has no such test")
        elif outcome == "passed":
            problems.append(f"{name}: listed as outside the subset, but it passes: "
                            f"remove it from {OUTSIDE_SUBSET.name}")
        elif entry["shows"] not in text:
            problems.append(f"{name}: fails, but not with {entry['shows']!r}: "
                            f"{text.strip()[:300]}")
    assert not problems, "\n".join(problems)
