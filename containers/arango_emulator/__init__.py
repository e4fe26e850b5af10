"""A local server that speaks ArangoDB's HTTP API, for machines without ArangoDB.

It is labelled emulated wherever it answers (``/_api/version`` details, the
``X-Arango-Emulated`` header): an in-memory Python server implementing what
pyArango, python-arango and Celery's ArangoDB backend use, with an AQL subset
behind a real parser (see :mod:`.aql_parser`). Run it with::

    python -m celery_conformance.containers.arango_emulator --port 8529 --root-password secret
"""
