"""Which backend runs on which store: the registry behind ``--backend``.

A :class:`BackendSpec` is data: the backend class, the stores it runs on, its
capabilities and its known failures. A :class:`Target` is one spec on one
store; every contract test runs once per selected target.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from celery.utils.imports import symbol_by_name

from .capabilities import Capabilities, KnownFailure

SQL_STORES = ("sqlite", "postgresql", "mysql")


def _sqlalchemy_operational_error() -> BaseException:
    from sqlalchemy.exc import OperationalError

    return OperationalError("SELECT 1", {}, ConnectionResetError("connection reset by peer"))


def _sqlalchemy_integrity_error() -> BaseException:
    from sqlalchemy.exc import IntegrityError

    return IntegrityError("INSERT", {}, ValueError("CHECK constraint failed"))


def _value_error() -> BaseException:
    return ValueError("not a store error")


@dataclass(frozen=True)
class BackendSpec:
    """A backend class and what it declares about itself."""

    name: str
    backend: str
    stores: tuple = ()
    capabilities: Capabilities = field(default_factory=Capabilities)
    known_failures: tuple = ()
    #: "module:Class" of the test backdoor that reads/writes the raw store
    backdoor: Optional[str] = None
    description: str = ""

    def load_class(self):
        return symbol_by_name(self.backend)

    def known_failure_for(self, clauses, test_name: str, store: str) -> Optional[KnownFailure]:
        for kf in self.known_failures:
            if kf.matches(clauses, test_name, store):
                return kf
        return None


@dataclass(frozen=True)
class Target:
    """One backend on one store."""

    spec: BackendSpec
    store: str

    @property
    def id(self) -> str:
        if self.spec.name == "reference-database":
            return self.store
        return f"{self.spec.name}@{self.store}"


REFERENCE_DATABASE = BackendSpec(
    name="reference-database",
    backend="backends.database:DatabaseBackend",
    stores=SQL_STORES,
    capabilities=Capabilities(
        kind="table",
        table_names_configurable=True,
        transient_error=_sqlalchemy_operational_error,
        permanent_error=_sqlalchemy_integrity_error,
    ),
    backdoor="suite.backdoors:SqlTableBackdoor",
    description="the reference SQLAlchemy backend (backends/database.py)",
)

#: Known failures of Celery 5.7.0's own DatabaseBackend, each a real divergence.
CELERY_DATABASE_KNOWN_FAILURES: tuple = ()

CELERY_DATABASE = BackendSpec(
    name="celery-database",
    backend="celery.backends.database:DatabaseBackend",
    stores=SQL_STORES,
    capabilities=Capabilities(
        kind="table",
        table_names_configurable=True,
        transient_error=_sqlalchemy_operational_error,
        permanent_error=_value_error,
    ),
    known_failures=CELERY_DATABASE_KNOWN_FAILURES,
    backdoor="suite.backdoors:SqlTableBackdoor",
    description="Celery 5.7.0's built-in celery.backends.database:DatabaseBackend",
)

SPECS: dict[str, BackendSpec] = {s.name: s for s in (REFERENCE_DATABASE, CELERY_DATABASE)}

#: ``--backend`` short names: the reference backend for each store.
STORE_ALIASES: dict[str, tuple[BackendSpec, str]] = {
    store: (REFERENCE_DATABASE, store) for store in SQL_STORES
}


class TargetError(ValueError):
    """A ``--backend`` value that names nothing runnable."""


def spec_for_class(path: str) -> BackendSpec:
    """The registered spec for ``module:Class``, else a generic one."""
    for spec in SPECS.values():
        if spec.backend == path:
            return spec
    try:
        obj = symbol_by_name(path)
    except Exception as exc:
        raise TargetError(f"--backend={path}: cannot import it ({exc}). Give module:Class "
                          f"of a Celery result backend, or one of: {', '.join(known_names())}")
    if isinstance(obj, BackendSpec):
        return obj
    from celery.backends.base import BaseKeyValueStoreBackend

    kind = "kv" if isinstance(obj, type) and issubclass(obj, BaseKeyValueStoreBackend) else "table"
    return BackendSpec(name=path, backend=path, capabilities=Capabilities(kind=kind),
                       description=f"third-party backend {path}")


def known_names() -> list:
    return sorted(STORE_ALIASES) + ["all"]


def resolve(value: str, url: Optional[str]) -> list:
    """Turn one ``--backend`` value into targets.

    ``sqlite`` / ``postgresql`` / ``mysql``: the reference backend on that store.
    ``module:Class[@store]``: any backend class; the store comes from ``@store``,
    from ``--backend-url``, or from the only store the spec declares.
    ``all``: every registered spec on every store it declares.
    """
    value = value.strip()
    if value == "all":
        return [Target(spec, store) for spec in SPECS.values() for store in spec.stores]
    if value in STORE_ALIASES:
        spec, store = STORE_ALIASES[value]
        return [Target(spec, store)]
    if value in SPECS:
        spec = SPECS[value]
        return [Target(spec, store) for store in spec.stores]
    path, _, store = value.partition("@")
    if ":" not in path:
        raise TargetError(f"--backend={value}: unknown backend. Use one of "
                          f"{', '.join(known_names())}, or module:Class[@store].")
    spec = spec_for_class(path)
    if store:
        return [Target(spec, store)]
    if url:
        return [Target(spec, store_for_url(url))]
    if len(spec.stores) == 1:
        return [Target(spec, spec.stores[0])]
    raise TargetError(
        f"--backend={value}: say which store to run it on, with --backend-url=URL "
        f"or {path}@STORE (one of: {', '.join(spec.stores or SQL_STORES)}).")


def store_for_url(url: str) -> str:
    """The store whose provider recognises ``url``, else 'url' (used as given)."""
    from containers import providers

    for name, provider in providers().items():
        if provider.recognizes(url):
            return name
    return "url"
