"""A pytest plugin for the unmutated run: each test's duration and outcome.

    pytest -p mutation.timing ...   (MUTATION_TIMING_FILE=path.json)

Under xdist the reports reach the controller, where this runs.
"""

from __future__ import annotations

import json
import os

_durations: dict = {}
_failed: list = []


def pytest_runtest_logreport(report) -> None:
    _durations[report.nodeid] = _durations.get(report.nodeid, 0.0) + report.duration
    if report.failed:
        _failed.append(report.nodeid)


def pytest_sessionfinish(session) -> None:
    path = os.environ.get("MUTATION_TIMING_FILE")
    if path and not hasattr(session.config, "workerinput"):
        with open(path, "w") as f:
            json.dump({"durations": _durations, "failed": _failed}, f)
