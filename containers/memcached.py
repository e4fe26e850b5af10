"""Memcached: a namespace is a key prefix; dropping one removes nothing.

Routes, in the ladder's order:

1. a URL in Celery's cache-backend form, ``memcached://host:port/`` (or
   ``memcache://``; several servers joined with ``;``);
2. testcontainers with the ``memcached:1.6`` image;
3. Debian's ``memcached`` on a free port, started with ``-I 4m`` (4 MiB items,
   so the contract's 1 MiB results fit; memcached's default is 1 MiB, less the
   item header) and ``-m 256``; as root it runs as user ``memcache`` or
   ``nobody`` (memcached refuses to run as root).

Memcached has no databases and cannot list its keys, so on every route a
namespace is a key prefix (Celery's ``global_keyprefix`` transport option)
and :meth:`MemcachedStore.drop_namespace` does nothing: keys cannot be
enumerated, and flushing a possibly shared server is never done. Keys left
behind expire with Celery's ``result_expires``. Passwords never appear in repr
or describe.
"""

from __future__ import annotations

import os
import pwd
from typing import Optional

from . import Namespace, StoreProvider, StoreServer, start_container
from ._process import ServerProcess, free_port
from .redis import KeyValueStore, installed

IMAGE = "memcached:1.6"


def server_address(url: str) -> tuple[str, int]:
    """(host, port) of the first server in ``memcached://[user:pass@]host:port[;...]/``."""
    first = url.partition("://")[2].rstrip("/").split(";")[0].rpartition("@")[2]
    host, _, port = first.rpartition(":")
    return (host, int(port)) if host and port.isdigit() else (first or "127.0.0.1", 11211)


def server_version(address: tuple[str, int]) -> str:
    from pymemcache.client.base import Client

    client = Client(address, connect_timeout=5, timeout=5)
    try:
        return client.version().decode()
    finally:
        client.close()


class MemcachedStore(KeyValueStore):
    """A memcached server reached with ``pymemcache`` (as Celery's cache backend is)."""

    name = "memcached"

    def __init__(self, url: str, process: Optional[ServerProcess] = None,
                 container=None, route: str = "url") -> None:
        super().__init__(url, process, container, route)
        self.address = server_address(url)
        self.version = server_version(self.address)

    def __repr__(self) -> str:  # never show the password
        host, port = self.address
        return f"<MemcachedStore {host}:{port} ({self.kind}, via {self.route})>"

    def create_namespace(self, label: str) -> Namespace:
        return self.prefix_namespace(label)

    def drop_namespace(self, namespace: Namespace) -> None:
        """Nothing: memcached cannot list a prefix's keys, and a flush would
        empty the whole (possibly shared) server."""


def _run_as() -> Optional[str]:
    """The user memcached runs as: none unless root, else memcache or nobody."""
    if os.geteuid() != 0:
        return None
    for user in ("memcache", "nobody"):
        try:
            pwd.getpwnam(user)
            return user
        except KeyError:
            pass
    return None


class MemcachedProvider(StoreProvider):
    name = "memcached"
    drivers = (("pymemcache", "memcached"),)
    url_form = "memcached://HOST:PORT/"
    env_var = "CELERY_CONFORMANCE_MEMCACHED_URL"
    local_install_hint = "apt-get install memcached"

    def recognizes(self, url: str) -> bool:
        return url.split(":", 1)[0].lower() in ("memcached", "memcache")

    def from_url(self, url: str) -> StoreServer:
        return MemcachedStore(url, route="url")

    def from_container(self) -> StoreServer:
        def make():
            from testcontainers.memcached import MemcachedContainer

            container = MemcachedContainer(IMAGE)
            container.with_command("memcached -m 256 -I 4m")
            container.get_connection_url = lambda: "memcached://{}:{}/".format(
                *container.get_host_and_port())
            return container

        return start_container(make, MemcachedStore)

    def local_unavailable_reason(self) -> Optional[str]:
        if installed("memcached") is None:
            return "no memcached binary found (Debian package memcached)"
        if os.geteuid() == 0 and _run_as() is None:
            return "running as root and there is no 'memcache' or 'nobody' user to run it as"
        return None

    def from_local(self, workdir: str) -> StoreServer:
        port = free_port()
        process = ServerProcess(
            [installed("memcached"), "-l", "127.0.0.1", "-p", str(port), "-U", "0",
             "-m", "256", "-I", "4m"],
            log_path=os.path.join(workdir, f"memcached-{os.getpid()}-{port}.log"),
            user=_run_as())
        url = f"memcached://127.0.0.1:{port}/"
        process.wait_ready(lambda: bool(server_version(("127.0.0.1", port))),
                           timeout=60, what="memcached")
        return MemcachedStore(url, process=process, route="local")


PROVIDER = MemcachedProvider()


def from_connection_info(info: dict) -> StoreServer:
    """The server another process started or was given (xdist workers)."""
    return MemcachedStore(info["url"], route=info.get("route", "url"))
