"""The file system: embedded; a namespace is a directory of its own.

Celery's FilesystemBackend takes ``file:///abs/path``; each namespace gets a
fresh directory, and dropping it removes the directory tree. A given URL or
directory (``file:///DIR``, or CELERY_CONFORMANCE_FILESYSTEM_DIR) holds one
subdirectory per namespace; otherwise they live in a throwaway directory of
the session's working directory. The version is the file system's type, from
/proc/mounts ("local" where that cannot be read).
"""

from __future__ import annotations

import os
import shutil

from . import DirectoryProvider, Namespace, StoreServer


def filesystem_type(path: str) -> str:
    """The type of the mount holding ``path`` (ext4, tmpfs, overlay...), else "local"."""
    path, best, found = os.path.realpath(path), "", "local"
    try:
        with open("/proc/mounts") as mounts:
            for line in mounts:
                fields = line.split()
                if len(fields) < 3:
                    continue
                mount = fields[1].replace("\\040", " ")
                inside = path == mount or path.startswith(mount.rstrip("/") + "/")
                if inside and len(mount) >= len(best):  # the last of equal mounts wins
                    best, found = mount, fields[2]
    except OSError:
        pass
    return found


class FilesystemStore(StoreServer):
    name = "filesystem"
    kind = "embedded"
    route = "embedded"

    def __init__(self, directory: str, route: str = "embedded") -> None:
        super().__init__()
        self.directory = os.path.abspath(directory)
        self.route = route
        self.version = filesystem_type(self.directory)

    def create_namespace(self, label: str) -> Namespace:
        name = self.new_namespace_name(label)
        path = os.path.join(self.directory, name)
        os.makedirs(path)
        return Namespace(name=name, url=f"file://{path}", store=self)

    def drop_namespace(self, namespace: Namespace) -> None:
        shutil.rmtree(namespace.url[len("file://"):], ignore_errors=True)

    def connection_info(self) -> dict:
        return {"directory": self.directory, "route": self.route}


class FilesystemProvider(DirectoryProvider):
    name = "filesystem"
    url_form = "file:///DIRECTORY"
    env_var = "CELERY_CONFORMANCE_FILESYSTEM_DIR"
    store_class = FilesystemStore

    def recognizes(self, url: str) -> bool:
        return url.startswith("file://")

    def directory_of(self, url: str) -> str:
        """A URL here is a directory for the namespaces (file:///DIR, or a path)."""
        for prefix in ("file://localhost/", "file://"):
            if url.startswith(prefix):
                return "/" + url[len(prefix):].lstrip("/")
        return url


PROVIDER = FilesystemProvider()


def from_connection_info(info: dict) -> StoreServer:
    return FilesystemStore(info["directory"], route=info.get("route", "embedded"))
