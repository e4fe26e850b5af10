"""Live-store fixtures for the reference backends' own tests."""

from __future__ import annotations

import pytest


def live_store_fixtures(store_name: str, backend_for):
    """(store, namespace, make) fixtures: the store the ladder gives for
    ``store_name`` (started once per module; skipped with the ladder's
    remedies where it cannot be had), a fresh namespace per test, and
    ``make(url=None, **celery_settings)`` building backends there with
    ``backend_for(url, **settings)``, closed after the test."""

    @pytest.fixture(scope="module")
    def store(tmp_path_factory):
        from celery_conformance.containers import StoreUnavailable, obtain, providers

        try:
            server = obtain(providers()[store_name], str(tmp_path_factory.mktemp(store_name)))
        except StoreUnavailable as exc:
            pytest.skip(f"not run: {exc}")
        yield server
        server.stop()

    @pytest.fixture
    def namespace(store):
        ns = store.create_namespace("backend")
        yield ns
        store.drop_namespace(ns)

    @pytest.fixture
    def make(namespace):
        made = []

        def make_backend(url=None, **conf):
            settings = dict(namespace.settings, **namespace.trust_settings)
            settings.update(conf)
            backend = backend_for(url or namespace.url, **settings)
            made.append(backend)
            return backend

        yield make_backend
        for backend in made:
            backend.close()

    return store, namespace, make


def check_first_writes_in_parallel(backends) -> None:
    """Each backend stores its first result at the same moment (each one
    creating what it needs); none may fail, and all results read back."""
    import threading

    from celery import states

    errors = []

    def first_write(backend, n):
        try:
            backend.store_result(f"c{n}", n, states.SUCCESS)
        except Exception as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=first_write, args=(b, n)) for n, b in enumerate(backends)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert [backends[0].get_task_meta(f"c{n}", cache=False)["result"]
            for n in range(len(backends))] == list(range(len(backends)))


def check_url_form_through_celery(url: str, cls, **settings) -> None:
    """``Celery(backend=url)`` selects ``cls`` (by the entry point the URL's
    scheme names) and the backend it builds stores and reads back a result."""
    import uuid

    from celery import Celery, states

    app = Celery("url-forms", set_as_current=False, backend=url)
    app.conf.update({"result_serializer": "json", "accept_content": ["json"], **settings})
    backend = app.backend
    try:
        assert isinstance(backend, cls), f"{url!r} selected {type(backend).__name__}"
        task_id = str(uuid.uuid4())
        backend.store_result(task_id, {"form": url.split("://", 1)[0]}, states.SUCCESS)
        assert app.AsyncResult(task_id).get(timeout=10) == {"form": url.split("://", 1)[0]}
    finally:
        backend.close()
