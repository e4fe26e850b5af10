"""Starts each store once per test session and shares it with xdist workers.

Without xdist a store starts on first use. Under xdist the controller starts
the stores of the selected targets before the workers exist and hands each
worker what it needs to connect; every worker then works in namespaces of its
own on the shared servers. Stores are stopped when the session ends.
"""

from __future__ import annotations

import importlib
import json
import shutil
import tempfile
from typing import Optional

from celery_conformance.containers import StoreServer, StoreUnavailable, obtain, providers

WORKERINPUT_KEY = "celery_conformance_stores"
#: environment variable naming a file of stores another process started and
#: shares (StoreBroker.export): a pytest run adopts them instead of starting
#: its own, and leaves them running
SHARED_STORES_ENV = "CELERY_CONFORMANCE_SHARED_STORES"


class UrlStore(StoreServer):
    """A store given only as a URL the suite cannot subdivide itself: each
    test's namespace is narrowed by the backend's namespace provider
    (BackendSpec.namespace: a key prefix for key-value backends)."""

    name = "url"
    kind = "real"
    route = "url"
    #: namespaces here are not isolated until the backend's provider narrows them
    isolates = False

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url

    def create_namespace(self, label: str):
        from celery_conformance.containers import Namespace

        return Namespace(name=self.new_namespace_name(label), url=self.url, store=self)

    def drop_namespace(self, namespace) -> None:
        pass

    def connection_info(self) -> dict:
        return {"url": self.url}


class StoreBroker:
    def __init__(self, backend_url: Optional[str], workdir: Optional[str] = None) -> None:
        self.backend_url = backend_url
        self._own_workdir = workdir is None
        self.workdir = workdir or tempfile.mkdtemp(prefix="celery-conformance-")
        self._stores: dict[str, StoreServer] = {}
        self._unavailable: dict[str, str] = {}
        self._owned: list[StoreServer] = []

    # -- obtaining ---------------------------------------------------------
    def get(self, name: str) -> StoreServer:
        """The running store ``name``; raises StoreUnavailable with remedies."""
        if name in self._stores:
            return self._stores[name]
        if name in self._unavailable:
            raise StoreUnavailable(self._unavailable[name])
        try:
            store = self._start(name)
        except StoreUnavailable as exc:
            self._unavailable[name] = str(exc)
            raise
        except Exception as exc:
            self._unavailable[name] = f"store {name!r} failed to start: {exc}"
            raise StoreUnavailable(self._unavailable[name]) from exc
        self._stores[name] = store
        return store

    def _start(self, name: str) -> StoreServer:
        if name == "url":
            if not self.backend_url:
                raise StoreUnavailable("no --backend-url given")
            return UrlStore(self.backend_url)
        known = providers()
        if name not in known:
            raise StoreUnavailable(f"unknown store {name!r}; known: {', '.join(sorted(known))}")
        url = self.backend_url if self.backend_url and known[name].recognizes(
            self.backend_url) else None
        store = obtain(known[name], self.workdir, url=url)
        if store.route != "url":
            self._owned.append(store)
        return store

    def given_url_stores(self, names) -> set:
        """Those of ``names`` obtained from a URL the user gave (--backend-url
        or the store's environment variable): a failure there is an error."""
        known = providers()
        given = set()
        for name in names:
            if name == "url":
                given.add(name)
            elif name in known and (self.backend_url and known[name].recognizes(
                    self.backend_url) or known[name].url_from_env()):
                given.add(name)
        return given

    def start_all(self, names) -> None:
        for name in names:
            try:
                self.get(name)
            except StoreUnavailable:
                pass

    # -- sharing with xdist workers ---------------------------------------
    def export(self) -> str:
        data = {}
        for name, store in self._stores.items():
            data[name] = {
                "module": type(store).__module__,
                "info": store.connection_info(),
                "kind": store.kind, "route": store.route, "version": store.version,
            }
        for name, reason in self._unavailable.items():
            data[name] = {"unavailable": reason}
        return json.dumps(data)

    def adopt(self, exported: str) -> None:
        for name, entry in json.loads(exported).items():
            if "unavailable" in entry:
                self._unavailable[name] = entry["unavailable"]
                continue
            if name == "url":
                store = UrlStore(entry["info"]["url"])
            else:
                module = importlib.import_module(entry["module"])
                store = module.from_connection_info(entry["info"])
            store.kind, store.route, store.version = entry["kind"], entry["route"], entry["version"]
            self._stores[name] = store

    def share(self, path) -> None:
        """Write the running stores to ``path`` (readable by the owner only),
        for other processes to adopt through SHARED_STORES_ENV."""
        import os

        fd = os.open(str(path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(self.export())

    def adopt_shared(self) -> bool:
        """Adopt the stores named by SHARED_STORES_ENV, if it is set."""
        import os

        path = os.environ.get(SHARED_STORES_ENV)
        if not path:
            return False
        try:
            with open(path) as f:
                exported = f.read()
        except OSError as exc:
            raise StoreUnavailable(f"{SHARED_STORES_ENV}={path}: cannot read the shared "
                                   f"stores ({exc}); unset it to start stores here") from exc
        self.adopt(exported)
        return True

    # -- reporting ---------------------------------------------------------
    def started(self) -> dict:
        return dict(self._stores)

    def unavailable(self) -> dict:
        return dict(self._unavailable)

    def stop_all(self) -> None:
        for store in reversed(self._owned):
            try:
                store.stop()
            except Exception:
                pass
        self._owned.clear()
        if self._own_workdir:
            # server data directories and SQLite files: hundreds of MB per session
            shutil.rmtree(self.workdir, ignore_errors=True)
