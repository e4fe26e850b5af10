"""Runs standalone scripts as ``python SCRIPT ARGS...`` would, each in a child
forked from one process that has imported Celery and the store drivers once
(importing them costs about a second a script; a run of every reproduction
pays it hundreds of times).

    zygote = Zygote()
    done = zygote.run([script, *args], env, timeout=600)   # like subprocess.run
    zygote.close()

Each child runs the script as ``__main__`` (runpy), with its own argv and
environment, and its stdout and stderr in files of its own; its exit status
is the script's. Only imports are shared, never the state a script makes.
Run as a program, this module is the forking process: it reads one JSON
request a line and answers with the child's exit status.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

#: imported once, before any fork (a missing one is skipped: scripts import
#: what they use, and report what is missing themselves)
PRELOADED = ("celery", "celery.backends.base", "celery.backends.database",
             "celery.backends.redis", "celery.backends.arangodb",
             "celery.backends.cosmosdbsql", "celery.backends.cache",
             "celery.backends.filesystem", "celery.backends.rpc", "kombu", "sqlalchemy",
             "psycopg2", "pymysql", "redis", "pyArango.connection", "azure.cosmos",
             "pymemcache")


class Zygote:
    """The forking process, started on first use."""

    def __init__(self) -> None:
        self._proc = None
        self._dir = tempfile.TemporaryDirectory(prefix="zygote-")

    def run(self, argv: list, env: dict, timeout: float) -> subprocess.CompletedProcess:
        """Run ``python argv...`` with ``env``; as subprocess.run with
        capture_output and text (a run past ``timeout`` raises TimeoutExpired)."""
        import select

        if self._proc is None or self._proc.poll() is not None:
            self._proc = subprocess.Popen([sys.executable, __file__], stdin=subprocess.PIPE,
                                          stdout=subprocess.PIPE, text=True, bufsize=1,
                                          start_new_session=True)
        out, err = (Path(self._dir.name) / "stdout", Path(self._dir.name) / "stderr")
        self._proc.stdin.write(json.dumps({"argv": [str(a) for a in argv], "env": env,
                                           "stdout": str(out), "stderr": str(err)}) + "\n")
        self._proc.stdin.flush()
        ready, _, _ = select.select([self._proc.stdout], [], [], timeout)
        if not ready:
            self.close()        # the child dies with its process group
            raise subprocess.TimeoutExpired(argv, timeout)
        answer = self._proc.stdout.readline()
        if not answer:
            raise RuntimeError(f"the zygote process ended (exit {self._proc.wait()})")
        return subprocess.CompletedProcess(argv, json.loads(answer)["returncode"],
                                           out.read_text(errors="replace"),
                                           err.read_text(errors="replace"))

    def close(self) -> None:
        """Stop the forking process and any child it is waiting for."""
        import signal

        if self._proc is not None and self._proc.poll() is None:
            try:
                os.killpg(self._proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self._proc.wait()
        self._proc = None


def _child(request: dict) -> None:
    """In the forked child: become ``python argv...`` and never return."""
    import runpy

    code = 0
    try:
        devnull = os.open(os.devnull, os.O_RDONLY)   # the requests stay the parent's
        os.dup2(devnull, 0)
        for fd, path in ((1, request["stdout"]), (2, request["stderr"])):
            target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.dup2(target, fd)
            os.close(target)
        sys.stdout = open(1, "w", closefd=False)
        sys.stderr = open(2, "w", closefd=False)
        os.environ.clear()
        os.environ.update(request["env"])
        sys.argv = list(request["argv"])
        sys.path[0] = os.path.dirname(os.path.abspath(sys.argv[0]))
        runpy.run_path(sys.argv[0], run_name="__main__")
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if exc.code is not None and not isinstance(exc.code, int):
            print(exc.code, file=sys.stderr)
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def _serve() -> None:
    import importlib

    for name in PRELOADED:
        try:
            importlib.import_module(name)
        except Exception:
            pass
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _child(request)
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        sys.stdout.write(json.dumps({"returncode": code}) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    _serve()
