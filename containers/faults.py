"""Real faults between a backend and one of the harness's own servers.

:class:`FaultProxy` is a TCP proxy on 127.0.0.1: every connection a backend
opens to it is forwarded to the server, and a test breaks the path on
demand with real sockets (no monkeypatching):

- ``latency(seconds)``: every chunk is delayed;
- ``stall()``: connections are accepted, nothing is forwarded either way
  (data waits in the proxy) until ``heal()``;
- ``reset()``: every open connection is closed with a TCP reset (RST);
- ``refuse()``: the listening port is closed, new connections are refused
  (ECONNREFUSED) until ``heal()`` listens on the same port again;
- ``cut_after(n, direction)``: the next connection is reset once ``n`` bytes
  went ``"up"`` (to the server) or ``"down"`` (to the client);
- ``drop_responses(n)``: the next ``n`` responses are swallowed after the
  request reached the server, and the client's connection is reset: the
  write happened, the client saw an error;
- ``heal()``: back to passing everything through.

It forwards only to 127.0.0.1: it exists to break the harness's own servers.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from typing import Optional

LOOPBACK = "127.0.0.1"
#: how often blocked pumps look at the proxy's state (seconds)
_TICK = 0.05


def _reset(sock: socket.socket) -> None:
    """Close ``sock`` with a TCP reset (SO_LINGER 0), not a FIN."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


class _Link:
    """One client connection and its upstream connection."""

    def __init__(self, proxy: "FaultProxy", client: socket.socket) -> None:
        self.proxy, self.client = proxy, client
        self.upstream: Optional[socket.socket] = None
        self.sent = {"up": 0, "down": 0}
        self.cut: Optional[tuple] = None          # (direction, bytes)
        self.closed = threading.Event()
        self.request_seen = False

    def run(self) -> None:
        proxy = self.proxy
        try:
            while proxy.stalled and not self.closed.is_set():
                time.sleep(_TICK)      # accepted; the server is not reached
            if self.closed.is_set():
                return
            self.upstream = socket.create_connection(proxy.target, timeout=10)
            for sock in (self.upstream, self.client):
                sock.settimeout(_TICK)
                # forward each chunk at once: Nagle's algorithm would hold a
                # small chunk back until the peer's delayed ACK (40 ms)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            self.abort()
            return
        threading.Thread(target=self._pump, args=(self.client, self.upstream, "up"),
                         daemon=True).start()
        self._pump(self.upstream, self.client, "down")

    def _pump(self, src: socket.socket, dst: socket.socket, direction: str) -> None:
        proxy = self.proxy
        while not self.closed.is_set():
            if proxy.stalled:
                time.sleep(_TICK)
                continue
            try:
                data = src.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                break
            if not data:
                break
            while proxy.stalled and not self.closed.is_set():
                time.sleep(_TICK)
            if proxy.delay:
                time.sleep(proxy.delay)
            if direction == "up":
                self.request_seen = True
                if proxy.observer is not None:
                    proxy.observer(data)
            elif self.request_seen and proxy.take_drop():
                # the server answered; the client never hears it
                proxy.tally("dropped_responses")
                self.abort()
                return
            if self.cut is not None and self.cut[0] == direction:
                room = self.cut[1] - self.sent[direction]
                if len(data) >= room:
                    self._send(dst, data[:max(room, 0)])
                    proxy.tally("cuts")
                    self.abort()
                    return
            if not self._send(dst, data):
                break
            self.sent[direction] += len(data)
            if direction == "up":
                proxy.tally("bytes_up", len(data))
        self.close()

    def _send(self, dst: socket.socket, data: bytes) -> bool:
        try:
            dst.sendall(data)
            return True
        except OSError:
            return False

    def abort(self) -> None:
        """Reset both sides."""
        self.closed.set()
        for sock in (self.client, self.upstream):
            if sock is not None:
                _reset(sock)
        self.proxy.forget(self)

    def close(self) -> None:
        """Close both sides normally (one side closed its end)."""
        self.closed.set()
        for sock in (self.client, self.upstream):
            if sock is None:
                continue
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
        self.proxy.forget(self)


class FaultProxy:
    """``FaultProxy(port)`` listens on a free port of 127.0.0.1 (``.port``)
    and forwards every connection to ``127.0.0.1:port``, until a fault is set.
    ``stats`` counts connections, resets, refusals, cuts, dropped responses
    and the bytes clients sent upstream (``bytes_up``)."""

    #: called with every chunk a client sends (tests watching the protocol)
    observer = None

    def __init__(self, target_port: int, target_host: str = LOOPBACK) -> None:
        if target_host not in (LOOPBACK, "localhost"):
            raise ValueError(f"FaultProxy forwards only to the harness's own servers on "
                             f"{LOOPBACK}, not to {target_host!r}")
        self.target = (LOOPBACK, target_port)
        self.delay = 0.0
        self.stalled = False
        self.stats = {"connections": 0, "resets": 0, "cuts": 0, "dropped_responses": 0,
                      "refusing": 0, "bytes_up": 0}
        self._drops = 0
        self._next_cut: Optional[tuple] = None
        self._links: set = set()
        self._lock = threading.Lock()
        self._listen_lock = threading.Lock()
        self._listener: Optional[socket.socket] = None
        self.port = 0
        self._closed = False
        self._listen()

    def __repr__(self) -> str:
        return f"<FaultProxy 127.0.0.1:{self.port} -> {self.target[0]}:{self.target[1]}>"

    # -------------------------------------------------------- listening
    def _listen(self) -> None:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((LOOPBACK, self.port))
        sock.listen(128)
        self.port = sock.getsockname()[1]
        self._listener = sock
        threading.Thread(target=self._accept, args=(sock,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            link = _Link(self, client)
            with self._lock:
                self.stats["connections"] += 1
                if self._next_cut is not None:
                    link.cut, self._next_cut = self._next_cut, None
                self._links.add(link)
            threading.Thread(target=link.run, daemon=True).start()

    # ----------------------------------------------------------- faults
    def latency(self, seconds: float) -> None:
        self.delay = float(seconds)

    def stall(self) -> None:
        self.stalled = True

    def reset(self) -> int:
        """Reset every open connection; returns how many."""
        with self._lock:
            links = list(self._links)
        for link in links:
            link.abort()
        with self._lock:
            self.stats["resets"] += len(links)
        return len(links)

    def refuse(self) -> None:
        """Close the listening port: new connections are refused."""
        with self._listen_lock:
            listener, self._listener = self._listener, None
        if listener is not None:
            try:
                listener.shutdown(socket.SHUT_RDWR)   # wakes the accept() blocked on it
            except OSError:
                pass
            listener.close()
            self.stats["refusing"] += 1

    def cut_after(self, nbytes: int, direction: str = "up") -> None:
        if direction not in ("up", "down"):
            raise ValueError("direction is 'up' (to the server) or 'down' (to the client)")
        with self._lock:
            self._next_cut = (direction, int(nbytes))

    def drop_responses(self, count: int = 1) -> None:
        with self._lock:
            self._drops += int(count)

    def heal(self) -> None:
        """Pass everything through again (listening again after refuse())."""
        self.delay, self.stalled = 0.0, False
        with self._lock:
            self._drops, self._next_cut = 0, None
        with self._listen_lock:
            if self._listener is not None or self._closed:
                return
            deadline = time.monotonic() + 5
            while True:
                try:
                    self._listen()
                    return
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(_TICK)

    def heal_after(self, seconds: float) -> threading.Thread:
        """heal() from another thread after ``seconds``."""
        timer = threading.Timer(seconds, self.heal)
        timer.daemon = True
        timer.start()
        return timer

    # ---------------------------------------------------------- helpers
    def take_drop(self) -> bool:
        with self._lock:
            if self._drops > 0:
                self._drops -= 1
                return True
            return False

    def tally(self, key: str, amount: int = 1) -> None:
        with self._lock:
            self.stats[key] += amount

    def forget(self, link: _Link) -> None:
        with self._lock:
            self._links.discard(link)

    @property
    def open_connections(self) -> int:
        with self._lock:
            return len(self._links)

    def close(self) -> None:
        self._closed = True
        self.stalled = False
        self.refuse()
        self.reset()
