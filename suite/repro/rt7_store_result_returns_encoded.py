"""RT7: store_result returns the encoded result: for an exception under the
json serializer, the dict with exc_type, exc_message and exc_module."""

import uuid

from celery import states

CLAUSE = "RT7"
TESTS = ("test_store_result_returns_encoded_exception",)


def reproduce(make_backend):
    backend = make_backend()
    returned = backend.store_result(str(uuid.uuid4()), ValueError("boom"), states.FAILURE)
    if not isinstance(returned, dict) or returned.get("exc_type") != "ValueError":
        return (f"store_result(id, ValueError('boom'), FAILURE) returned {returned!r}, not "
                f"the encoded exception (a dict with exc_type 'ValueError')")
    return None


if __name__ == "__main__":
    from _run import main

    main(reproduce)
