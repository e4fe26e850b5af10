"""Wiring for this repository's own runs.

The plugin itself comes from the ``pytest11`` entry point once the package is
installed (``pip install -e .``); from a bare checkout it is loaded here.
"""

import importlib.metadata

try:
    _installed = any(ep.value == "celery_conformance.suite.plugin"
                     for ep in importlib.metadata.entry_points(group="pytest11"))
except Exception:  # pragma: no cover
    _installed = False

# pytester serves the harness's own tests (tests/); pytest only honours
# pytest_plugins in the root conftest.
pytest_plugins = ["pytester"] if _installed else ["pytester", "celery_conformance.suite.plugin"]
