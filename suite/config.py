"""One place that resolves the suite's settings.

Precedence: command line, then ``CELERY_CONFORMANCE_*`` environment variables,
then ``[tool.celery-conformance]`` in the rootdir's pyproject.toml, then defaults.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

TOOL_TABLE = "celery-conformance"

#: option dest -> (environment variable, pyproject key, default)
SETTINGS = {
    "backend": ("CELERY_CONFORMANCE_BACKEND", "backend", "sqlite"),
    "backend_url": ("CELERY_CONFORMANCE_BACKEND_URL", "backend-url", None),
    "require_store": ("CELERY_CONFORMANCE_REQUIRE_STORE", "require-store", None),
    "conformance_report": ("CELERY_CONFORMANCE_REPORT", "conformance-report", None),
    "hypothesis_profile": ("HYPOTHESIS_PROFILE", "hypothesis-profile", "dev"),
    "repro_dir": ("CELERY_CONFORMANCE_REPRO_DIR", "repro-dir", None),
    "soak": ("CELERY_CONFORMANCE_SOAK", "soak", None),
    "worker_broker": ("CELERY_CONFORMANCE_WORKER_BROKER", "worker-broker", "redis"),
}

#: the brokers the end-to-end tests' worker can use
WORKER_BROKERS = ("redis", "rabbitmq")


@dataclass(frozen=True)
class Settings:
    backends: tuple
    backend_url: Optional[str]
    required_stores: frozenset
    report_path: Optional[str]
    hypothesis_profile: str
    #: where each setting came from, for the session header
    sources: dict
    #: where to write a standalone reproduction of every failing clause
    repro_dir: Optional[str] = None
    #: seconds the RY7 fault schedule runs for (None: a short run)
    soak_seconds: Optional[float] = None
    #: the store that carries the end-to-end tests' task messages
    worker_broker: str = "redis"


def read_pyproject(rootdir: Path) -> dict:
    path = Path(rootdir) / "pyproject.toml"
    if not path.is_file():
        return {}
    with open(path, "rb") as f:
        data = tomllib.load(f)
    return data.get("tool", {}).get(TOOL_TABLE, {})


def _split(value) -> tuple:
    if value is None:
        return ()
    if isinstance(value, (list, tuple)):
        items = []
        for v in value:
            items.extend(_split(v))
        return tuple(items)
    return tuple(v.strip() for v in str(value).split(",") if v.strip())


def resolve(option_values: dict, rootdir: Path, environ=os.environ) -> Settings:
    table = read_pyproject(rootdir)
    values, sources = {}, {}
    for dest, (env, key, default) in SETTINGS.items():
        cli = option_values.get(dest)
        if cli not in (None, [], ""):
            values[dest], sources[dest] = cli, "command line"
        elif environ.get(env):
            values[dest], sources[dest] = environ[env], f"${env}"
        elif key in table:
            values[dest], sources[dest] = table[key], f"pyproject [tool.{TOOL_TABLE}]"
        else:
            values[dest], sources[dest] = default, "default"
    return Settings(
        backends=_split(values["backend"]),
        backend_url=values["backend_url"],
        required_stores=frozenset(_split(values["require_store"])),
        report_path=values["conformance_report"],
        hypothesis_profile=str(values["hypothesis_profile"]),
        sources=sources,
        repro_dir=values["repro_dir"],
        soak_seconds=_seconds("soak", values["soak"]),
        worker_broker=_worker_broker(values["worker_broker"], sources["worker_broker"]),
    )


def _worker_broker(value, source: str) -> str:
    broker = str(value).strip().lower()
    if broker not in WORKER_BROKERS:
        raise ValueError(f"worker-broker {value!r} (from {source}) is not one of "
                         f"{', '.join(WORKER_BROKERS)}")
    return broker


def _seconds(name: str, value) -> Optional[float]:
    if value in (None, ""):
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = -1
    if seconds <= 0:
        raise ValueError(f"--{name} takes a number of seconds greater than 0, not {value!r}")
    return seconds
