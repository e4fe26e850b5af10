"""The boundaries the scale tests draw across (suite.boundaries) are the
reference backends' own: a batch size changed in a backend and not in the
data would let the scale tests stop crossing it."""

from __future__ import annotations

import pytest

from celery_conformance.suite import boundaries


def test_reference_backend_constants_are_named_boundaries():
    from celery_conformance.backends import _common, database

    assert boundaries.named("sql-cleanup-batch").value == database.DatabaseBackend.cleanup_batch_size
    assert boundaries.named("celery-id").value == _common.ID_MAX_LENGTH


def test_key_value_reference_batches_are_named_boundaries():
    arangodb = pytest.importorskip("celery_conformance.backends.arangodb")
    cosmosdbsql = pytest.importorskip("celery_conformance.backends.cosmosdbsql")
    assert boundaries.named("arangodb-mget-batch").value == arangodb.MGET_BATCH
    assert boundaries.named("arangodb-key").value == arangodb.KEY_LIMIT_BYTES
    assert boundaries.named("cosmosdb-mget-batch").value == cosmosdbsql.MGET_BATCH
    assert boundaries.named("cosmosdb-id").value == cosmosdbsql.ID_LIMIT


def test_across_gives_both_sides_of_each_boundary_of_an_area():
    assert boundaries.across("mget", at_most=1001) == [99, 100, 101, 998, 999, 1000, 1001]
    assert boundaries.above("mget") == [101, 1000, 1001]
    assert boundaries.across("id", at_most=200) == [154, 155, 156]
    with pytest.raises(KeyError, match="known"):
        boundaries.across("pages")
    with pytest.raises(KeyError, match="known"):
        boundaries.named("nope")


def test_a_backend_class_declares_its_cleanup_batch_by_attribute():
    from celery_conformance.backends.database import DatabaseBackend
    from celery_conformance.suite.capabilities import infer_capabilities
    from celery_conformance.suite.targets import SPECS

    caps, sources = infer_capabilities(DatabaseBackend)
    assert (caps.cleanup_batch, sources["cleanup_batch"]) == (1000, "cleanup_batch_size")
    assert SPECS["reference-database"].capabilities.cleanup_batch == caps.cleanup_batch
    from celery.backends.database import DatabaseBackend as CeleryDatabaseBackend

    assert infer_capabilities(CeleryDatabaseBackend)[0].cleanup_batch is None
