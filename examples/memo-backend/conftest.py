# Run the contract against this backend from here:
#   pytest --pyargs celery_conformance.suite --backend=memo_backend.conformance:SPEC \
#          --backend-url=memo:///tmp/memo/results.db
# The plugin comes from celery-backend-conformance's pytest11 entry point; the
# spec says what the backend supports and where it knowingly diverges.
