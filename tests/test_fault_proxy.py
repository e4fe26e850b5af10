"""The fault proxy: each fault, on real sockets, against a tiny line server
that answers every request line and remembers what it received."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from celery_conformance.containers.faults import FaultProxy


class LineServer:
    """Answers each line ``x`` with ``ok x``; ``received`` lists the lines."""

    def __init__(self) -> None:
        self.received: list = []
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn) -> None:
        try:
            with conn, conn.makefile("rwb") as f:
                for line in f:
                    self.received.append(line.strip())
                    f.write(b"ok " + line)
                    f.flush()
        except OSError:   # the proxy reset the connection: what these tests do
            return

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def server():
    s = LineServer()
    yield s
    s.close()


@pytest.fixture
def proxy(server):
    p = FaultProxy(server.port)
    yield p
    p.close()


def ask(port: int, line: bytes = b"hello", timeout: float = 2.0, sock=None) -> bytes:
    own = sock is None
    sock = sock or socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.settimeout(timeout)
    try:
        sock.sendall(line + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = sock.recv(4096)
            if not chunk:
                raise ConnectionResetError("closed")
            data += chunk
        return data
    finally:
        if own:
            sock.close()


def test_passes_through(proxy):
    assert ask(proxy.port) == b"ok hello\n"
    assert proxy.stats["connections"] == 1


def test_only_the_harness_own_loopback_servers_are_targets():
    with pytest.raises(ValueError, match="127.0.0.1"):
        FaultProxy(80, "example.org")


def test_reset_breaks_open_connections_with_a_reset(proxy):
    sock = socket.create_connection(("127.0.0.1", proxy.port))
    assert ask(proxy.port, sock=sock) == b"ok hello\n"
    assert proxy.reset() == 1
    with pytest.raises((ConnectionResetError, BrokenPipeError)):
        ask(proxy.port, sock=sock)
        ask(proxy.port, sock=sock)   # a reset may surface on the second use
    sock.close()
    assert ask(proxy.port) == b"ok hello\n", "new connections pass again"


def test_refuse_then_heal_on_the_same_port(proxy):
    port = proxy.port
    proxy.refuse()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=1)
    proxy.heal()
    assert proxy.port == port
    assert ask(port) == b"ok hello\n"


def test_stall_holds_data_until_healed(proxy, server):
    proxy.stall()
    with pytest.raises(socket.timeout):
        ask(proxy.port, timeout=0.5)
    assert b"hello" not in server.received, "a stalled proxy forwarded the request"
    proxy.heal_after(0.3)
    started = time.monotonic()
    assert ask(proxy.port, b"later", timeout=5) == b"ok later\n"
    assert time.monotonic() - started >= 0.25


def test_latency_delays_each_exchange(proxy):
    proxy.latency(0.2)
    started = time.monotonic()
    ask(proxy.port)
    assert time.monotonic() - started >= 0.35   # one delay up, one down


def test_drop_response_after_the_request_reached_the_server(proxy, server):
    sock = socket.create_connection(("127.0.0.1", proxy.port))
    ask(proxy.port, b"first", sock=sock)
    proxy.drop_responses(1)
    with pytest.raises((ConnectionResetError, socket.timeout)):
        ask(proxy.port, b"write", sock=sock, timeout=2)
    sock.close()
    assert b"write" in server.received, "the request did not reach the server"
    assert proxy.stats["dropped_responses"] == 1
    assert ask(proxy.port, b"again") == b"ok again\n"


def test_cut_after_n_bytes_upstream(proxy, server):
    proxy.cut_after(3, "up")
    with pytest.raises((ConnectionResetError, socket.timeout)):
        ask(proxy.port, b"abcdefgh", timeout=2)
    assert b"abcdefgh" not in server.received
    assert proxy.stats["cuts"] == 1
    assert ask(proxy.port, b"whole") == b"ok whole\n", "only the next connection is cut"


def test_a_server_restarted_from_a_short_lived_thread_outlives_that_thread(tmp_path):
    """The parent-death signal that stops a server when the test process
    dies is tied by the kernel to the thread that started the server: a
    restart from a fault schedule's thread must not stop the server when
    that thread ends."""
    import sys
    import threading
    import time

    from celery_conformance.containers._process import ServerProcess, free_port, port_open

    port = free_port()
    server = ServerProcess([sys.executable, "-m", "http.server", str(port), "--bind",
                            "127.0.0.1"], str(tmp_path / "server.log"))
    try:
        server.wait_ready(lambda: port_open(port), 20, "http.server")
        restarter = threading.Thread(target=server.restart)
        restarter.start()
        restarter.join(30)
        time.sleep(0.5)           # the signal, if any, arrives as the thread ends
        assert server.proc.poll() is None, "the restarted server stopped with the thread"
        assert port_open(port)
    finally:
        server.stop()
