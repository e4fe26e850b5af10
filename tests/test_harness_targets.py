"""``--backend`` values and the targets they resolve to."""

from __future__ import annotations

import pytest

from celery_conformance.suite.targets import (CELERY_DATABASE, REFERENCE_DATABASE, SQL_STORES, SPECS, Target,
                           TargetError, resolve, store_for_url)

CELERY_DB = "celery.backends.database:DatabaseBackend"


@pytest.mark.parametrize("store", SQL_STORES)
def test_store_name_selects_the_reference_backend(store):
    assert resolve(store, None) == [Target(REFERENCE_DATABASE, store)]
    assert resolve(f"  {store} ", None)[0].id == store


@pytest.mark.parametrize("store", SQL_STORES)
def test_class_at_store_selects_the_registered_spec(store):
    [target] = resolve(f"{CELERY_DB}@{store}", None)
    assert target.spec is CELERY_DATABASE
    assert target.store == store
    assert target.id == f"celery-database@{store}"


def test_spec_name_selects_every_store_it_declares():
    assert resolve("celery-database", None) == [
        Target(CELERY_DATABASE, s) for s in CELERY_DATABASE.stores]


@pytest.mark.parametrize("url, store", [
    ("postgresql://u:p@db.example:5432/x", "postgresql"),
    ("postgresql+psycopg2://u@h/x", "postgresql"),
    ("mysql+pymysql://u@h/x", "mysql"),
    ("mariadb://u@h/x", "mysql"),
    ("sqlite:///tmp/dir", "sqlite"),
    ("redis://localhost:6379/0", "redis"),
    ("memory://", "url"),
])
def test_class_with_backend_url_takes_the_store_from_the_url(url, store):
    [target] = resolve(CELERY_DB, url)
    assert target.spec is CELERY_DATABASE and target.store == store
    assert store_for_url(url) == store


def test_all_is_every_spec_on_every_store_it_declares():
    targets = resolve("all", None)
    assert targets == [Target(spec, s) for spec in SPECS.values() for s in spec.stores]
    assert {t.id for t in targets} >= {"sqlite", "postgresql", "mysql",
                                      "celery-database@sqlite", "celery-database@postgresql",
                                      "celery-database@mysql"}
    assert len({t.id for t in targets}) == len(targets)


def test_unregistered_class_gets_a_generic_spec():
    [target] = resolve("celery_conformance.suite.backdoors:KeyValueBackdoor@url", "memory://")
    assert target.spec.backend == "celery_conformance.suite.backdoors:KeyValueBackdoor"
    assert target.spec.capabilities.kind == "table"   # not a Celery key-value backend
    assert target.spec.known_failures == ()
    assert target.id == "celery_conformance.suite.backdoors:KeyValueBackdoor@url"


def test_unregistered_key_value_class_gets_capabilities_from_its_class(tmp_path, monkeypatch):
    (tmp_path / "mycache.py").write_text(
        "from celery.backends.cache import CacheBackend\n"
        "class MyCache(CacheBackend):\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    [target] = resolve("mycache:MyCache@url", "memory://")
    caps = target.spec.capabilities
    assert (caps.kind, caps.native_expiry, caps.implements_incr) == ("kv", True, True)
    assert target.spec.known_failures == ()
    assert target.spec.backdoor_path() == "celery_conformance.suite.backdoors:KeyValueBackdoor"


@pytest.mark.parametrize("value, url, message", [
    ("nonsense", None, "unknown backend. Use one of"),
    ("", None, "unknown backend"),
    ("no_such_module_xyz:Backend@sqlite", None, "cannot import it"),
    ("celery.backends.database:NoSuchClass@sqlite", None, "cannot import it"),
    (CELERY_DB, None, "say which store to run it on"),
    (f"{CELERY_DB}@oracle", None, "unknown store 'oracle'"),
    (f"{CELERY_DB}@url", None, "@url needs --backend-url"),
])
def test_bad_values_raise_a_clear_target_error(value, url, message):
    with pytest.raises(TargetError, match=message.replace("(", r"\(")) as info:
        resolve(value, url)
    assert str(info.value).startswith(f"--backend={value.strip().split('@')[0]}")


def test_unknown_backend_error_lists_the_known_names():
    with pytest.raises(TargetError) as info:
        resolve("postgres", None)
    for name in ("sqlite", "postgresql", "mysql", "celery-database", "all"):
        assert name in str(info.value)


def test_bad_backend_value_is_a_usage_error_in_a_run(harness):
    harness.write("test_trivial.py", "def test_nothing():\n    pass\n")
    result = harness.run("--backend=nonsense")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--backend=nonsense: unknown backend*"])


def test_contract_tests_run_once_per_target(harness):
    harness.write("test_ids.py", """
        import pytest

        @pytest.mark.clause("RT3")
        def test_target(conformance_target):
            pass
    """)
    result = harness.run("--backend=sqlite,celery.backends.database:DatabaseBackend@sqlite",
                         "--backend=sqlite", "--collect-only", "-q")
    result.stdout.fnmatch_lines(["test_ids.py::test_target[[]sqlite]",
                                 "test_ids.py::test_target[[]celery-database@sqlite]"])
    assert "2 tests collected" in result.stdout.str()


def test_emulated_store_is_said_in_the_target_id():
    """A target whose store is an emulation carries '-emulated' in its id, so
    test ids and report names never pass it off as the real server."""
    from celery_conformance.suite.targets import REFERENCE_ARANGODB

    assert Target(REFERENCE_ARANGODB, "arangodb").id == "arangodb"
    assert Target(REFERENCE_ARANGODB, "arangodb", emulated=True).id == "arangodb-emulated"
    assert Target(CELERY_DATABASE, "sqlite", emulated=True).id == "celery-database@sqlite-emulated"


def test_targets_are_labelled_from_the_store_kind_the_provider_expects(monkeypatch):
    """Before any store runs, the label comes from what the ladder will start:
    a URL or a container engine means the real server, else the local route."""
    from celery_conformance import containers
    from celery_conformance.suite.plugin import label_emulated_targets
    from celery_conformance.suite.targets import REFERENCE_ARANGODB

    class Provider(containers.StoreProvider):
        name, local_kind = "arangodb", "emulated"
        recognizes = staticmethod(lambda url: url.startswith("arangodb:"))
        from_url = from_local = local_unavailable_reason = lambda *a: None

    class Broker:
        def started(self):
            return {}

    class Settings:
        backend_url = None

    class State:
        targets = [Target(REFERENCE_ARANGODB, "arangodb"), Target(REFERENCE_DATABASE, "sqlite")]
        broker, settings = Broker(), Settings()

    monkeypatch.setattr(containers, "providers", lambda: {"arangodb": Provider()})
    monkeypatch.setattr(containers, "container_engine", lambda: (False, "none"))
    state = State()
    label_emulated_targets(state)
    assert [t.id for t in state.targets] == ["arangodb-emulated", "sqlite"]
    state.settings.backend_url = "arangodb://root@db.example:8529/x/y"
    label_emulated_targets(state)
    assert [t.id for t in state.targets] == ["arangodb", "sqlite"]
    state.settings.backend_url = None
    monkeypatch.setattr(containers, "container_engine", lambda: (True, "answered"))
    label_emulated_targets(state)
    assert [t.id for t in state.targets] == ["arangodb", "sqlite"]


@pytest.mark.parametrize("printed", ["celery-database@postgresql", "sqlite",
                                     "celery-arangodb@arangodb-emulated", "arangodb-emulated"])
def test_a_target_id_as_printed_selects_that_target(printed):
    [target] = resolve(printed, None)
    assert target.id.removesuffix("-emulated") == printed.removesuffix("-emulated")


def test_a_spec_on_a_store_it_does_not_declare_is_refused():
    with pytest.raises(TargetError, match="runs on sqlite, postgresql, mysql, not on 'redis'"):
        resolve("celery-database@redis", None)
