"""The key-value reference backends' common base.

A store module implements five primitives on records (a key, an encoded
value, the state it was written with, and the client-clock time of the
write); this base turns them into Celery's KeyValueStoreBackend API with the
contract's guarantees:

* ``_fetch(key)`` / ``_fetch_many(keys)``: stored values (one round trip per
  batch for the latter);
* ``_put(key, value, state, sticky)``: one atomic write; with ``sticky`` the
  store itself keeps a stored SUCCESS (a conditional write, never
  read-then-write in the client);
* ``_remove(key)``: delete, a missing key being no error;
* ``_remove_written_before(cutoff)``: delete every record whose last write is
  older than ``cutoff`` (seconds since the epoch), leaving alone any record
  rewritten meanwhile.
"""

from __future__ import annotations

import base64
import time
from typing import Optional

from kombu.utils.encoding import bytes_to_str

from celery import states
from celery.backends.base import KeyValueStoreBackend
from celery.exceptions import BackendStoreError, ImproperlyConfigured

from ._common import (ConformantBackendMixin, CorruptResultError, ResultTooLargeError,
                      check_id, chord_keep_seconds, naming, validate_expires,
                      validate_serialization)

__all__ = ("ReferenceKeyValueBackend", "StoredValue")


class StoredValue:
    """How an encoded value (str, or bytes for binary serializers) is kept in
    a JSON document: text as it is, bytes as base64 with a marker."""

    BASE64 = "base64"

    @classmethod
    def to_document(cls, value) -> tuple:
        """(value, encoding) for a JSON document; encoding None means text."""
        if isinstance(value, (bytes, bytearray, memoryview)):
            return base64.b64encode(bytes(value)).decode("ascii"), cls.BASE64
        return value, None

    @classmethod
    def from_document(cls, value, encoding):
        if encoding == cls.BASE64:
            return base64.b64decode(value)
        return value

    @classmethod
    def read(cls, key: str, doc, field: str):
        """The encoded value a stored document holds for ``key`` in ``field``;
        a document of another key (a hash collision) or without the field is
        an error naming the key."""
        if not isinstance(doc, dict):
            raise CorruptResultError(f"{key}: the stored document is not an object")
        if doc.get("key", key) != key:
            raise CorruptResultError(f"{key}: the stored document holds key {doc.get('key')!r}")
        if field not in doc:
            raise CorruptResultError(f"{key}: the stored document has no {field!r} field")
        return cls.from_document(doc[field], doc.get("value_encoding"))


class ReferenceKeyValueBackend(ConformantBackendMixin, KeyValueStoreBackend):
    """Celery's key-value backend API over the store primitives above."""

    #: keys are str (Celery's default is bytes)
    key_t = bytes_to_str
    #: largest encoded value stored, in bytes; larger raises ResultTooLargeError
    #: (each store module sets its own, from its store's limit)
    max_payload_bytes: int

    def __init__(self, *args, **kwargs):
        if "app" in kwargs:
            validate_serialization(kwargs["app"].conf, kwargs)
            validate_expires(kwargs["app"].conf, kwargs)
        super().__init__(*args, **kwargs)
        self._setup_retries()

    # ------------------------------------------------------------ primitives
    def _fetch(self, key: str):
        raise NotImplementedError

    def _fetch_many(self, keys: list) -> dict:
        raise NotImplementedError

    def _put(self, key: str, value, state: Optional[str], sticky: bool,
             keep_for: Optional[float] = None) -> None:
        """Write one record; ``keep_for``: seconds it must outlive
        result_expires for (a chord's header result, CH4)."""
        raise NotImplementedError

    def _remove(self, key: str) -> None:
        raise NotImplementedError

    def _remove_written_before(self, cutoff: float, now: float) -> None:
        """Delete the records written before ``cutoff`` (epoch seconds) but
        those kept (``keep_until``) past ``now``."""
        raise NotImplementedError

    # ----------------------------------------------------- Celery's KV methods
    def get(self, key):
        """The value stored at ``key``, or None."""
        return self._fetch(bytes_to_str(key))

    def mget(self, keys):
        """The values stored at ``keys``, in key order (None where missing)."""
        keys = [bytes_to_str(k) for k in keys]
        found = self._fetch_many(keys) if keys else {}
        return [found.get(k) for k in keys]

    def set(self, key, value):
        """Store ``value`` at ``key`` (last write wins)."""
        self._put(bytes_to_str(key), value, None, sticky=False)

    def _set_with_state(self, key, value, state, keep_for=None):
        key = bytes_to_str(key)
        self._check_size(key, value, state)
        sticky = key.startswith(self.task_keyprefix)
        self._put(key, value, state, sticky=sticky, keep_for=keep_for)

    def delete(self, key):
        """Delete ``key``; deleting a missing key is no error."""
        self._remove(bytes_to_str(key))

    def _stored_size(self, key: str, value, state: Optional[str]) -> int:
        """The bytes the store is sent for this record, compared with
        ``max_payload_bytes``: here the encoded value itself."""
        return len(value) if isinstance(value, (bytes, bytearray)) else \
            len(value.encode("utf-8", "surrogatepass"))

    def _check_size(self, key: str, value, state: Optional[str] = None) -> None:
        size = self._stored_size(key, value, state)
        if size > self.max_payload_bytes:
            raise ResultTooLargeError(
                f"{key}: the encoded record is {size} bytes, over this backend's size limit "
                f"of {self.max_payload_bytes} bytes (max_payload_bytes); nothing was stored")

    # ------------------------------------------------------------- results
    def _store_result(self, task_id, result, state, traceback=None, request=None, **kwargs):
        """One conditional write: the store keeps a stored SUCCESS (no prior
        read in the client, so no race between the read and the write)."""
        meta = self._get_result_meta(result=result, state=state, traceback=traceback,
                                     request=request)
        meta["task_id"] = bytes_to_str(task_id)
        try:
            self._set_with_state(self.get_key_for_task(task_id), self.encode(meta), state,
                                 keep_for=chord_keep_seconds(self.app.conf, self.expires,
                                                             request))
        except ResultTooLargeError as exc:
            exc.task_id, exc.state = task_id, state
            raise
        except BackendStoreError as exc:
            raise BackendStoreError(str(exc), state=state, task_id=task_id) from exc
        return result

    def _get_task_meta_for(self, task_id):
        value = self.get(self.get_key_for_task(task_id))
        if value is None:
            return {"status": states.PENDING, "result": None}
        try:
            return self.decode_result(value)
        except Exception as exc:
            raise naming(exc, f"task {task_id!r}") from None

    def task_result_exists(self, task_id):
        """True when a record for ``task_id`` is stored."""
        check_id(task_id)
        key = self.get_key_for_task(task_id)
        return self._ensure_retryable(lambda: self.get(key) is not None)

    def _restore_group(self, group_id):
        label = f"group {group_id!r}"
        value = self.get(self.get_key_for_group(group_id))
        if value is None:
            return None
        try:
            meta = self.decode(value)
            stored = meta["result"]
        except Exception as exc:
            raise naming(exc, label) from None
        meta["result"] = self._group_from_value(stored, label)
        return meta

    # --------------------------------------------------------------- expiry
    def cleanup(self):
        """Delete every result and group last written more than
        ``result_expires`` ago, in any state, but a chord's header results
        kept for ``result_chord_expires`` (CH4). With result_expires 0 or
        None: nothing."""
        if not self.expires:
            return
        now = time.time()
        self._ensure_retryable(self._remove_written_before, now - float(self.expires), now)

    # -------------------------------------------------------------- pickling
    def __reduce__(self, args=(), kwargs=None):
        kwargs = {} if not kwargs else kwargs
        kwargs.update({"url": self.url, "expires": self.expires,
                       "serializer": self.serializer, "accept": sorted(self.accept)})
        return super().__reduce__(args, kwargs)
