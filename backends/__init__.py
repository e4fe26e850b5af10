"""Reference result backends that meet the conformance contract (L1 and L2).

``backends.database:DatabaseBackend`` is a drop-in replacement for Celery's
SQLAlchemy result backend; select it by class path, or through the
``celery.result_backends`` entry point ``conformance_db``::

    result_backend = "conformance_db+postgresql://user:password@host/db"
"""

__all__ = ("DatabaseBackend",)


def __getattr__(name):  # lazy, so importing the package does not import SQLAlchemy
    if name == "DatabaseBackend":
        from .database import DatabaseBackend

        return DatabaseBackend
    raise AttributeError(name)
