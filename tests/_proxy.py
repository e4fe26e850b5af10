"""The harness's fault proxy, watching HTTP: records the request lines
clients send through it (for tests of what a backend asks its server)."""

from __future__ import annotations

import re
import threading

from celery_conformance.containers.faults import FaultProxy

_REQUEST_LINE = re.compile(rb"(GET|POST|PUT|PATCH|DELETE|HEAD) (/\S*|https?://\S+) HTTP/1\.[01]\r\n")


class TcpProxy(FaultProxy):
    """``TcpProxy(port)``: a :class:`FaultProxy` to ``127.0.0.1:port`` whose
    ``requests`` lists (method, path) of the HTTP requests seen, in order."""

    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.requests: list = []
        self._seen_lock = threading.Lock()
        super().__init__(target_port, target_host)

    def observer(self, data: bytes) -> None:
        with self._seen_lock:
            self.requests.extend((m.group(1).decode(), m.group(2).decode())
                                 for m in _REQUEST_LINE.finditer(data))

    def count(self, method: str, path_fragment: str = "") -> int:
        with self._seen_lock:
            return sum(1 for m, p in self.requests if m == method and path_fragment in p)
