"""CF1: as_uri(include_password=True) is a URL that builds a backend on the
same store, which reads what the first one stored."""

import uuid

from celery import states

CLAUSE = "CF1"
TESTS = ("test_as_uri_with_password_builds_the_same_backend",)


def reproduce(make_backend):
    backend = make_backend()
    uri = backend.as_uri(include_password=True)
    if not isinstance(uri, str) or not uri:
        return f"as_uri(include_password=True) returned {uri!r}, not a URL"
    task_id = str(uuid.uuid4())
    backend.store_result(task_id, {"via": "as_uri"}, states.SUCCESS)
    try:
        again = make_backend(url=uri)
    except Exception as exc:
        return f"a backend built from as_uri(include_password=True) fails: " \
               f"{type(exc).__name__}: {exc}"
    meta = again.get_task_meta(task_id, cache=False)
    if meta["status"] != states.SUCCESS:
        return f"a backend built from as_uri(include_password=True) reads {meta['status']}"
    return None


if __name__ == "__main__":
    from _run import main

    main(reproduce)
