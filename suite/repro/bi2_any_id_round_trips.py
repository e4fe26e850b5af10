"""BI2: any task id Celery accepts (a non-empty str of up to 155 characters,
any Unicode but NUL and lone surrogates, with / \\ ? # % space and quotes)
round-trips to exactly its own record: never truncated, never aliased (ids
that differ only in a trailing space, an accent or their last character are
distinct records)."""

import uuid

from celery import states

CLAUSE = "BI2"
TESTS = ("test_any_accepted_id_round_trips_to_its_own_record",
         "test_ids_differing_only_in_their_tail_are_distinct",
         "test_ids_of_155_characters_are_never_truncated")


def awkward_ids(tag):
    base = f"bi2-{tag}"
    wide = "\U0001F600" * (155 - len(tag) - 1) + "-" + tag   # 155 4-byte-in-UTF-8 chars
    return [
        f"bi2/slash/{tag}", f"bi2\\backslash\\{tag}", f"bi2?query?{tag}", f"bi2#hash#{tag}",
        f"bi2%2Fpercent%{tag}", f"bi2 'quotes\" and space {tag} ",
        base, base + " ",                                        # a trailing space, or none
        base + "-e", base + "-\u00e9", base + "-e\u0301",        # e, é, e + combining accent
        f"bi2-ünïcödé-日本語-{tag}",
        wide, wide[:-1] + ("0" if wide[-1] != "0" else "1"),     # 155 chars, last one differs
    ]


def reproduce(make_backend):
    backend = make_backend()
    ids = awkward_ids(uuid.uuid4().hex[:12])
    for task_id in ids:
        try:
            backend.store_result(task_id, {"id": task_id}, states.SUCCESS)
        except Exception as exc:
            return (f"store_result({task_id!r}) of an id Celery accepts raised "
                    f"{type(exc).__name__}: {' '.join(str(exc).split())}"[:300])
    for task_id in ids:
        try:
            meta = backend.get_task_meta(task_id, cache=False)
        except Exception as exc:
            return (f"get_task_meta({task_id!r}) raised "
                    f"{type(exc).__name__}: {' '.join(str(exc).split())}"[:300])
        if meta["status"] != states.SUCCESS or meta["result"] != {"id": task_id} \
                or meta.get("task_id", task_id) != task_id:
            return (f"after storing {{'id': id}} under each of {len(ids)} distinct ids, "
                    f"{task_id!r} was expected to read back its own SUCCESS value but read "
                    f"{meta['status']} {meta['result']!r}: the ids share one record")
    return None


if __name__ == "__main__":
    from _run import main

    main(reproduce)
