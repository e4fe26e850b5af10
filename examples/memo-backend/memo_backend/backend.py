"""A key-value result backend keeping results in one SQLite file.

``result_backend = "memo:///path/to/results.db"`` (the ``memo`` entry point),
or the class path ``memo_backend.backend:MemoBackend``. A stored SUCCESS is
kept by the store itself (one conditional write); cleanup() deletes what this
backend's keys hold that was last written more than result_expires ago.
"""

from __future__ import annotations

import os
import sqlite3
import time

from celery import states
from celery.backends.base import KeyValueStoreBackend
from celery.exceptions import ImproperlyConfigured
from kombu.utils.encoding import bytes_to_str

SCHEMA = ("CREATE TABLE IF NOT EXISTS results (key BLOB PRIMARY KEY, value BLOB, "
          "state TEXT, written REAL)")


class MemoBackend(KeyValueStoreBackend):
    """Results in one SQLite file, under Celery's key-value API."""

    def __init__(self, url=None, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.url = url or self.app.conf.result_backend
        self.path = self._path(self.url)
        expires = self.app.conf.result_expires
        try:
            self.expires = self.prepare_expires(expires, type=float)
        except (TypeError, ValueError) as exc:
            raise ImproperlyConfigured(
                f"result_expires={expires!r} is not a number of seconds or a timedelta"
            ) from exc
        if self.expires is not None and not self.expires >= 0:      # negative, or NaN
            raise ImproperlyConfigured(
                f"result_expires={expires!r} must be a number of seconds >= 0")
        with self._connect() as conn:
            conn.execute(SCHEMA)

    @staticmethod
    def _path(url):
        scheme, sep, rest = (url or "").partition("://")
        if not sep or scheme.rpartition("+")[2] != "memo":
            raise ImproperlyConfigured(
                f"the memo backend URL must have the scheme memo (memo:///path/to/file.db), "
                f"not {scheme!r}")
        path = "/" + rest.lstrip("/") if rest.startswith("/") else rest
        if not path or not os.path.isdir(os.path.dirname(path) or "."):
            raise ImproperlyConfigured(f"the memo backend's directory for {path!r} does not "
                                       f"exist: give memo:///an/existing/directory/file.db")
        return path

    def _connect(self):
        conn = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        return _Closing(conn)

    def __reduce__(self, args=(), kwargs=None):
        return super().__reduce__(args, {**(kwargs or {}), "url": self.url})

    def get(self, key):
        with self._connect() as conn:
            row = conn.execute("SELECT value FROM results WHERE key = ?", (bytes(key),)).fetchone()
        return row[0] if row else None

    def mget(self, keys):
        return [self.get(key) for key in keys]

    def set(self, key, value):
        self._put(key, value, None, guard=False)

    def _set_with_state(self, key, value, state):
        # only task records are guarded; a group id may be saved again (GR3)
        self._put(key, value, state, guard=bytes(key).startswith(bytes(self.task_keyprefix)))

    def _put(self, key, value, state, guard):
        data = value.encode() if isinstance(value, str) else value
        keep = " WHERE results.state IS NOT 'SUCCESS'" if guard else ""
        with self._connect() as conn:
            conn.execute(
                "INSERT INTO results (key, value, state, written) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value, "
                "state = excluded.state, written = excluded.written" + keep,
                (bytes(key), data, state, time.time()))

    def delete(self, key):
        with self._connect() as conn:
            conn.execute("DELETE FROM results WHERE key = ?", (bytes(key),))

    def _get_task_meta_for(self, task_id):
        value = self.get(self.get_key_for_task(task_id))
        if value is None:
            return {"status": states.PENDING, "result": None}
        try:
            meta = self.decode(value)
        except Exception as exc:
            raise ValueError(f"the stored result of task {bytes_to_str(task_id)!r} "
                             f"cannot be decoded: {exc!r}") from exc
        return self.meta_from_decoded(meta)

    def _restore_group(self, group_id):
        try:
            return super()._restore_group(group_id)
        except Exception as exc:
            raise ValueError(f"the stored group {bytes_to_str(group_id)!r} cannot be decoded: "
                             f"{exc!r}") from exc

    def cleanup(self):
        """Delete this backend's records last written more than result_expires ago."""
        if not self.expires:
            return
        cutoff = time.time() - self.expires
        with self._connect() as conn:
            for prefix in (self.task_keyprefix, self.group_keyprefix):
                prefix = bytes(prefix)
                conn.execute("DELETE FROM results WHERE written < ? AND substr(key, 1, ?) = ?",
                             (cutoff, len(prefix), prefix))


class _Closing:
    """A connection that closes when the with block ends."""

    def __init__(self, conn):
        self.conn = conn

    def __enter__(self):
        return self.conn

    def __exit__(self, *exc):
        self.conn.close()
