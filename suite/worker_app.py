"""The Celery app that the end-to-end tests' worker and client share.

The worker imports this module exactly as a user's worker imports its app
(``celery -A celery_conformance.suite.worker_app worker``); its settings come
as JSON in the environment variable :data:`SETTINGS_ENV` (the backend under
test as a ``result_backend`` URL, the broker, the namespace's settings). The
client builds the same app in-process with :func:`build_app`. Task names are
fixed, so the two always agree.

Tasks record what they did where the test can see it without the backend: a
file per run in a directory the test names (``runs``), so "the chord body ran
exactly once" is counted outside the store under test.
"""

from __future__ import annotations

import json
import os
import time
import uuid

from celery import Celery

#: the environment variable holding the worker's settings (JSON)
SETTINGS_ENV = "CELERY_CONFORMANCE_WORKER_SETTINGS"
#: task names (the client and the worker register the same)
PREFIX = "conformance."


class HeaderFailed(ValueError):
    """Raised by the task that fails on purpose (importable by both sides)."""


def _mark_run(runs, label: str) -> None:
    if runs:
        with open(os.path.join(runs, f"{label}-{uuid.uuid4().hex}"), "w") as f:
            f.write(str(os.getpid()))


def register_tasks(app: Celery) -> None:
    @app.task(name=PREFIX + "add", shared=False)
    def add(x, y):
        return x + y

    @app.task(name=PREFIX + "echo", shared=False)
    def echo(value, runs=None, seconds=0.0):
        if seconds:
            time.sleep(seconds)
        _mark_run(runs, "echo")
        return value

    @app.task(name=PREFIX + "collect", shared=False)
    def collect(results, runs=None):
        """A chord body: returns the header's results as it got them."""
        _mark_run(runs, "body")
        return list(results)

    @app.task(name=PREFIX + "fail", shared=False)
    def fail(message, seconds=0.0):
        if seconds:
            time.sleep(seconds)
        raise HeaderFailed(message)

    @app.task(name=PREFIX + "retry_once", shared=False, bind=True, max_retries=3)
    def retry_once(self, value, runs=None, seconds=0.0):
        """RETRY on the first run (held for ``seconds``, so the caller can see
        it), SUCCESS with ``value`` on the next."""
        _mark_run(runs, f"try{self.request.retries}")
        if self.request.retries == 0:
            raise self.retry(countdown=seconds, exc=HeaderFailed("first try"))
        return value

    @app.task(name=PREFIX + "started", shared=False, track_started=True)
    def started(value, seconds):
        time.sleep(seconds)
        return value

    @app.task(name=PREFIX + "ignored", shared=False, ignore_result=True)
    def ignored(value, fail_with=None, runs=None):
        _mark_run(runs, "ignored")
        if fail_with:
            raise HeaderFailed(fail_with)
        return value


def build_app(settings: dict) -> Celery:
    """The app with ``settings`` and the end-to-end tasks."""
    app = Celery("celery-conformance-worker", set_as_current=False)
    app.conf.update(settings)
    register_tasks(app)
    return app


def _from_environment() -> Celery:
    text = os.environ.get(SETTINGS_ENV)
    return build_app(json.loads(text) if text else {})


#: the worker's app (``celery -A celery_conformance.suite.worker_app``)
app = _from_environment()
