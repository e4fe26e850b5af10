"""celery-backend-conformance: the contract and reference harness for Celery
result backends, under one import name.

- ``celery_conformance.suite`` — the contract (a pytest plugin: ``pytest
  --pyargs celery_conformance.suite --backend=module:Class``);
- ``celery_conformance.backends`` — the reference backends;
- ``celery_conformance.containers`` — how a live store is obtained.

In the repository these are the top-level folders ``suite/``, ``backends/``
and ``containers/``; an installed wheel has them under this package.
"""

import os as _os

_checkout = _os.path.dirname(_os.path.dirname(_os.path.abspath(__file__)))
if (_os.path.isfile(_os.path.join(_checkout, "pyproject.toml"))
        and _os.path.isfile(_os.path.join(_checkout, "suite", "plugin.py"))):
    # a checkout: the subpackages are the repository's top-level folders
    __path__.append(_checkout)
