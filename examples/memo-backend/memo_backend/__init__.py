"""memo_backend: Celery results in one SQLite file (an example third-party backend)."""
