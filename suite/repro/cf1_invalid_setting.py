"""CF1: an invalid setting raises ImproperlyConfigured naming it, at
construction or first use (store, read, cleanup), never a bare ValueError,
TypeError, KeyError or AttributeError: result_expires='soon' and
result_serializer='no-such-serializer' for every backend (and result_expires -60 or NaN), and for
backends on SQLAlchemy tables an unknown database_engine_options entry and a
database_table_names that is not a dict."""

import re

CLAUSE = "CF1"
TESTS = ("test_invalid_setting_raises_improperly_configured",)


def reproduce(make_backend):
    from _run import first_error, not_improperly_configured

    #: (setting, invalid value, the part the error must name)
    bad = [("result_expires", "soon", "result_expires"),
           ("result_expires", -60, "result_expires"),
           ("result_expires", float("nan"), "result_expires"),
           ("result_serializer", "no-such-serializer", "result_serializer")]
    model = getattr(make_backend(), "task_cls", None)
    if getattr(model, "__table__", None) is not None:  # a SQLAlchemy table backend
        bad += [("database_engine_options", {"no_such_engine_option": 1},
                 "no_such_engine_option"),
                ("database_table_names", "celery_tasks", "database_table_names")]
    for setting, value, part in bad:
        problem = not_improperly_configured(
            first_error(lambda: make_backend(**{setting: value})), f"{setting}={value!r}",
            re.escape(part))
        if problem:
            return problem
    return None


if __name__ == "__main__":
    from _run import main

    main(reproduce)
