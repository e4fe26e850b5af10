"""The Celery result-backend contract, as property-based pytest tests.

Run it against any backend: ``pytest --pyargs celery_conformance.suite --backend=module:Class
--backend-url=URL``. The plugin (``celery_conformance.suite.plugin``) is registered through the
``pytest11`` entry point, so the options exist wherever this package is installed.
"""

__version__ = "0.1.0"
