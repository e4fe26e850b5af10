"""What memo_backend declares to celery-backend-conformance.

    pytest --pyargs celery_conformance.suite --backend=memo_backend.conformance:SPEC \
           --backend-url=memo:///tmp/memo/results.db
"""

import dataclasses
import os

from celery_conformance.suite.capabilities import Capabilities, KnownFailure
from celery_conformance.suite.targets import BackendSpec

INHERITED = "inherited from Celery's KeyValueStoreBackend: "


def one_file_per_test(namespace):
    """Each test gets a database file of its own beside the one the URL names."""
    scheme, _, path = namespace.url.partition("://")
    directory = os.path.dirname("/" + path.lstrip("/"))
    return dataclasses.replace(namespace, url=f"{scheme}://{directory}/{namespace.name}.db")


SPEC = BackendSpec(
    name="memo",
    backend="memo_backend.backend:MemoBackend",
    stores=("url",),
    # every store access goes through these (BI1 checks none is reached for an empty id)
    capabilities=Capabilities(kind="kv", io_methods=("get", "mget", "_put", "delete")),
    namespace="memo_backend.conformance:one_file_per_test",
    known_failures=(
        KnownFailure(clause="CH4", test="test_*_pending_chords_header_results_*",
                     reason="cleanup() deletes every record last written more than "
                            "result_expires ago, a pending chord's header results too "
                            "(this example keeps no chord expiry)"),
        KnownFailure(clause="EX5", test="test_empty_failure_payload_raises_value_error",
                     reason=INHERITED + "exception_to_python() returns None for a falsy "
                                        "payload ({})"),
        KnownFailure(clause="EX7", test="test_empty_string_failure_payload_raises",
                     reason=INHERITED + "exception_to_python() returns None for ''"),
        KnownFailure(clause="CF1",
                     test="test_invalid_setting_raises_improperly_configured[[]*-result_serializer]",
                     reason=INHERITED + "an unknown result_serializer escapes from "
                                        "Backend.__init__ as a bare KeyError"),
        KnownFailure(clause="GR6",
                     test="test_saving_a_non_group_fails_clearly_and_never_restores_a_group",
                     reason=INHERITED + "_save_group() calls result.as_tuple(), so a non-group "
                                        "fails with AttributeError"),
    ),
    description="memo_backend.backend:MemoBackend (an example third-party backend)",
)
