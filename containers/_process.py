"""Plumbing shared by the local-binary routes: ports, child servers, readiness."""

from __future__ import annotations

import ctypes
import os
import pwd
import signal
import socket
import subprocess
import threading
import time
from typing import Callable, Optional, Sequence

PR_SET_PDEATHSIG = 1


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _child_setup(user: Optional[str]) -> Callable[[], None]:
    """In the child: drop to ``user`` (when root), then ask the kernel to
    SIGTERM the server if the test process dies, so a crash leaks no server."""

    def setup() -> None:
        os.setsid()
        if user is not None and os.geteuid() == 0:
            pw = pwd.getpwnam(user)
            os.setgid(pw.pw_gid)
            os.initgroups(user, pw.pw_gid)
            os.setuid(pw.pw_uid)
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)

    return setup


_SPAWNER = None
_SPAWNER_LOCK = threading.Lock()


def _lasting_popen(*args, **kwargs) -> subprocess.Popen:
    """subprocess.Popen from a thread that lives as long as the process. The
    kernel sends the parent-death signal (PR_SET_PDEATHSIG) when the *thread*
    that forked the child ends, so a server started from a short-lived thread
    (a fault schedule restarting it) would be stopped with that thread."""
    global _SPAWNER
    if threading.current_thread() is threading.main_thread():
        return subprocess.Popen(*args, **kwargs)
    with _SPAWNER_LOCK:
        if _SPAWNER is None:
            from concurrent.futures import ThreadPoolExecutor

            _SPAWNER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="server-spawner")
    return _SPAWNER.submit(subprocess.Popen, *args, **kwargs).result()


def run_as(cmd: Sequence[str], user: Optional[str] = None, timeout: float = 120,
           env: Optional[dict] = None) -> subprocess.CompletedProcess:
    """Run a setup command (initdb...) to completion, as ``user`` when root."""
    return subprocess.run(
        list(cmd), capture_output=True, text=True, timeout=timeout,
        preexec_fn=_child_setup(user), env=env,
    )


class ServerProcess:
    """A server started by this process, logging to a file, stopped on exit."""

    def __init__(self, cmd: Sequence[str], log_path: str, user: Optional[str] = None,
                 env: Optional[dict] = None, cwd: Optional[str] = None,
                 stop_signal: int = signal.SIGTERM) -> None:
        #: the signal that shuts the server down cleanly (PostgreSQL: SIGINT,
        #: a fast shutdown; its SIGTERM waits for every client to leave)
        self.stop_signal = stop_signal
        self.log_path = log_path
        self.cmd, self.user, self.env, self.cwd = list(cmd), user, env, cwd
        self._ready: Optional[tuple] = None
        self._start()

    def _start(self) -> None:
        self._log = open(self.log_path, "ab")
        self.proc = _lasting_popen(
            self.cmd, stdout=self._log, stderr=subprocess.STDOUT,
            preexec_fn=_child_setup(self.user), env=self.env, cwd=self.cwd,
        )

    def restart(self, hard: bool = False) -> None:
        """Stop the server (SIGTERM, or with ``hard`` SIGKILL to its whole
        process group, as a crash would) and start it again with the same
        command, so on the same port and data; wait until it is ready, with
        the readiness probe it was first started with."""
        if hard:
            self.kill()
        else:
            self.stop()
        self._start()
        if self._ready is not None:
            probe, timeout, what = self._ready
            self.wait_ready(probe, timeout, f"{what} (restarted)")

    def kill(self) -> None:
        """SIGKILL the server's process group: no shutdown, no flush."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                self.proc.kill()
            self.proc.wait(10)
        self._log.close()

    def wait_ready(self, probe: Callable[[], bool], timeout: float, what: str) -> None:
        """Poll ``probe`` until it is true; fail with the log tail otherwise."""
        self._ready = (probe, timeout, what)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{what} exited with code {self.proc.returncode} before it was ready.\n"
                    f"--- server log ---\n{self.log_tail()}")
            try:
                if probe():
                    return
            except Exception:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{what} was not ready after {timeout:.0f} s.\n"
                           f"--- server log ---\n{self.log_tail()}")

    def log_tail(self, lines: int = 60) -> str:
        try:
            with open(self.log_path, "rb") as f:
                data = f.read()[-max(20000, lines * 200):]
        except OSError:
            return ""
        return "\n".join(data.decode("utf-8", "replace").splitlines()[-lines:])

    def stop(self, timeout: float = 10) -> None:
        """Shut the server down with its stop signal; past ``timeout``, SIGKILL
        its whole process group and wait until every process of it is gone
        (a server's children may hold its shared memory or port)."""
        if self.proc.poll() is None:
            self.proc.send_signal(self.stop_signal)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    self.proc.kill()
                self.proc.wait(5)
        self._wait_group_gone(5)
        self._log.close()

    def _wait_group_gone(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.killpg(self.proc.pid, 0)
            except (ProcessLookupError, PermissionError):
                return
            time.sleep(0.05)


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.2)
        return s.connect_ex((host, port)) == 0
