"""CF2: database_table_names is honoured per backend: a backend with
configured table names works in a schema that already holds the
default-named tables (its indexes and sequences follow the configured names,
each table set keeps its own rows), and two backends in one process, one
with default and one with configured names, each keep querying their own
tables, whichever was built last. Backends without SQLAlchemy tables have no
database_table_names: nothing to check."""

import uuid

from celery import states

CLAUSE = "CF2"
TESTS = ("test_configured_tables_coexist_with_default_tables_in_one_schema",
         "test_table_names_of_one_backend_do_not_redirect_another")


def _custom_names():
    suffix = uuid.uuid4().hex[:8]
    return {"task": f"cf2_tasks_{suffix}", "group": f"cf2_groups_{suffix}"}


class Divergence(Exception):
    pass


def _write_and_read(build, label):
    """(backend, id of a result it wrote and read back); Divergence if it cannot."""
    task_id = str(uuid.uuid4())
    try:
        backend = build()
        backend.store_result(task_id, {"by": label}, states.SUCCESS)
        meta = backend.get_task_meta(task_id, cache=False)
    except Exception as exc:
        raise Divergence(f"the {label} backend failed to be built, write and read a result: "
                         f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}") from exc
    if meta["status"] != states.SUCCESS or meta["result"] != {"by": label}:
        raise Divergence(f"the {label} backend does not read back its own write: {meta}")
    return backend, task_id


def reproduce(make_backend):
    if getattr(getattr(make_backend(), "task_cls", None), "__table__", None) is None:
        return None  # no SQLAlchemy tables, so no database_table_names

    def custom():
        return make_backend(database_table_names=_custom_names())
    try:
        # default-named tables in the schema, then a backend with other names beside them
        _, default_id = _write_and_read(make_backend, "default-named")
        beside, _ = _write_and_read(custom, "custom-named (beside the default-named tables)")
        if beside.get_task_meta(default_id, cache=False)["status"] != states.PENDING:
            return "a backend with configured table names reads a row of the default-named table"
        # two backends in one process: building the second must not redirect the first
        first, first_id = _write_and_read(make_backend, "first (default-named)")
        _write_and_read(custom, "second (custom-named)")
        status = first.get_task_meta(first_id, cache=False)["status"]
        if status != states.SUCCESS:
            return (f"after a second backend with other database_table_names was built, the "
                    f"first (default-named) backend reads its own result as {status}")
        _write_and_read(lambda: first, "first (default-named), again,")
    except Divergence as divergence:
        return str(divergence)
    return None


if __name__ == "__main__":
    from _run import main

    main(reproduce)
