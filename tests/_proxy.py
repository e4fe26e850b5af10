"""A real TCP proxy on 127.0.0.1 for the harness's own tests: forwards bytes
to a server and records the HTTP request lines clients send through it."""

from __future__ import annotations

import re
import socket
import threading

_REQUEST_LINE = re.compile(rb"(GET|POST|PUT|PATCH|DELETE|HEAD) (/\S*|https?://\S+) HTTP/1\.[01]\r\n")


class TcpProxy:
    """``TcpProxy(port)`` listens on a free port of 127.0.0.1 and forwards every
    connection to ``127.0.0.1:port``. ``requests`` lists (method, path) of the
    HTTP requests seen, in order."""

    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.requests: list = []
        self._lock = threading.Lock()
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self.port = self._sock.getsockname()[1]
        self._closed = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._sock.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=10)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False),
                             daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, from_client: bool) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if from_client:
                    with self._lock:
                        self.requests.extend(
                            (m.group(1).decode(), m.group(2).decode())
                            for m in _REQUEST_LINE.finditer(data))
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()

    def count(self, method: str, path_fragment: str = "") -> int:
        with self._lock:
            return sum(1 for m, p in self.requests if m == method and path_fragment in p)

    def close(self) -> None:
        self._closed.set()
        self._sock.close()
