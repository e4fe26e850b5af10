"""python -m mutation: mutate the reference backends, run the contract on
each mutant, report (see the package docstring)."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import config
from .probe import tier_tests
from .report import (LISTED_EQUIVALENT, diff_lines, enclosing, is_equivalent, load_equivalents,
                     mutant_key, rejudged, settled,
                     write_reports)

REPO = Path(__file__).resolve().parents[1]
#: what a package copy holds: the package as a wheel lays it out
PACKAGE_PARTS = {"celery_conformance/__init__.py": "celery_conformance/__init__.py",
                 "suite": "celery_conformance/suite",
                 "backends": "celery_conformance/backends",
                 "containers": "celery_conformance/containers"}
#: a skipped mutant's reason, as cosmic-ray stores it
OTHER_SHARD = "mutation: another shard runs it"
NOT_SELECTED = "mutation: not in this run's selection"


def tool(name: str):
    """A console script of this interpreter's environment (cosmic-ray's), or on PATH."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else shutil.which(name)


def say(message: str) -> None:
    print(f"[mutation {time.strftime('%H:%M:%S')}] {message}", flush=True)


def package_copy(target: Path, origin: Path = None) -> Path:
    """A copy of the package under ``target`` (mutated in place by cosmic-ray),
    with a pytest.ini of its own: the copy is pytest's rootdir, and nothing of
    the checkout (its conftest.py, its configuration) takes part. With
    ``origin``, a copy of that earlier copy: every copy of a run holds the
    code and the contract as they were when the run began, whatever changes
    in the checkout meanwhile."""
    if target.exists():
        shutil.rmtree(target)
    if origin is not None:
        shutil.copytree(origin, target)
        return target
    target.mkdir(parents=True)
    (target / "pytest.ini").write_text("[pytest]\n")
    for source, dest in PACKAGE_PARTS.items():
        src, dst = REPO / source, target / dest
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(src, dst)
    return target


#: the stores every pytest run of this process adopts (see start_stores)
_SHARED: dict = {}


def environment(copy: Path) -> dict:
    """The copy's package first on the path (before the installed one), this
    repository's ``mutation`` package after it; the shared stores."""
    env = dict(os.environ)
    env.update(_SHARED)
    env["PYTHONPATH"] = os.pathsep.join([str(copy), str(REPO)])
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.setdefault("HYPOTHESIS_PROFILE", "ci")
    return env


def judging_backends(mutated: config.MutatedFile, args) -> list:
    tiers = mutated.tiers[:args.tiers] if args.tiers else mutated.tiers
    found: list = []
    for backend in [b for t in tiers for b in t.backends]:
        if backend not in found:
            found.append(backend)
    return found


def start_stores(backends: list, root: Path):
    """Start every store the judges need once, shared by all the pytest runs
    (coverage and every mutant's) through CELERY_CONFORMANCE_SHARED_STORES;
    the broker, to stop at the end."""
    from celery_conformance.suite.stores import SHARED_STORES_ENV, StoreBroker
    from celery_conformance.suite.targets import resolve

    stores = sorted({t.store for b in backends for t in resolve(b, None)})
    broker = StoreBroker(None)
    say(f"starting the stores the contract runs on: {', '.join(stores)}")
    broker.start_all(stores)
    if broker.unavailable():
        broker.stop_all()
        raise SystemExit("mutation: a store the judges need cannot start:\n" + "\n".join(
            f"{name}: {reason}" for name, reason in broker.unavailable().items()))
    for name, store in broker.started().items():
        say(f"store {name}: {store.describe()}")
    path = root / "stores.json"
    broker.share(path)
    _SHARED[SHARED_STORES_ENV] = str(path)
    return broker


def cosmic_ray_config(path: Path, module: str, test_command: str) -> Path:
    excluded = ", ".join(json.dumps(o) for o in config.EXCLUDED_OPERATORS)
    path.write_text(
        "[cosmic-ray]\n"
        f"module-path = {json.dumps(module)}\n"
        "timeout = 7200.0\n"      # the probe keeps each mutant's own, tighter time box
        "excluded-modules = []\n"
        f"test-command = {json.dumps(test_command)}\n\n"
        "[cosmic-ray.distributor]\nname = \"local\"\n\n"
        "[cosmic-ray.filters.operators-filter]\n"
        f"exclude-operators = [{excluded}]\n")
    return path


def run(command: list, cwd: Path, env: dict, what: str) -> None:
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"mutation: {what} failed (exit {done.returncode}): "
                         f"{' '.join(command)}\n{done.stdout[-3000:]}{done.stderr[-3000:]}")


def tier_paths(tier: config.Tier, args) -> list:
    """The contract paths (in a copy) a tier's tests come from, narrowed by
    --tests; [] when --tests leaves the tier nothing."""
    fault_path = f"{config.TEST_DIR}/{config.FAULT_MODULE}"
    if not args.tests:
        return [fault_path] if tier.faults else [
            config.TEST_DIR, f"--ignore={fault_path}",
            *(f"--ignore={config.TEST_DIR}/{name}" for name in config.NOT_JUDGING)]
    names = [n.strip() for n in args.tests.split(",") if n.strip()]
    chosen = [n for n in names if (n == config.FAULT_MODULE) == tier.faults]
    return [f"{config.TEST_DIR}/{n}" for n in chosen]


def tier_coverage(tier: config.Tier, paths: list, copy: Path, out: Path, jobs: int,
                  module: str) -> tuple:
    """({line: [tests]}, {test: seconds}) of one tier's run on the unmutated code."""
    from coverage import CoverageData

    env = environment(copy)
    env["COVERAGE_FILE"] = str(out / ".coverage")
    env["MUTATION_TIMING_FILE"] = str(out / "timing.json")
    (out / "timing.json").unlink(missing_ok=True)
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
               "-p", "mutation.timing", f"--cov={copy / PACKAGE_PARTS['backends']}",
               "--cov-context=test", "--cov-report=", *(["-n", str(jobs)] if jobs > 1 else []),
               f"--backend={','.join(tier.backends)}", *paths]
    say(f"tier {tier.label}: the contract on the unmutated code, with coverage")
    started = time.monotonic()
    done = subprocess.run(command, cwd=copy, env=env, capture_output=True, text=True)
    timing = json.loads((out / "timing.json").read_text()) if (out / "timing.json").exists() \
        else {"durations": {}, "failed": ["(no timing written)"]}
    if done.returncode != 0 or timing["failed"]:
        raise SystemExit(f"mutation: the contract fails on the unmutated code, tier "
                         f"{tier.label} (exit {done.returncode}; failed: {timing['failed'][:10]}): "
                         f"a mutant can only be judged against a green run\n{done.stdout[-3000:]}")
    say(f"tier {tier.label}: {len(timing['durations'])} tests in "
        f"{time.monotonic() - started:.0f}s")
    data = CoverageData(basename=str(out / ".coverage"))
    data.read()
    target = (copy / module).resolve()
    measured = next((f for f in data.measured_files() if Path(f).resolve() == target), None)
    lines: dict = {}
    if measured is not None:
        for line, contexts in data.contexts_by_lineno(measured).items():
            tests = sorted({c.rsplit("|", 1)[0] for c in contexts if c})
            if tests:
                lines[str(line)] = tests
    return lines, timing["durations"]


def coverage_map(mutated: config.MutatedFile, copy: Path, out: Path, jobs: int, args) -> dict:
    """Which contract tests of each tier execute each line of the file on the
    unmutated code, and how long each test takes."""
    from .probe import import_time_uses, statement_starts

    module = PACKAGE_PARTS["backends"] + "/" + Path(mutated.path).name
    tiers = mutated.tiers[:args.tiers] if args.tiers else mutated.tiers
    result = {"tier_lines": [], "import_tests": [], "durations": {}, "tiers": [],
              "backends": judging_backends(mutated, args)}
    for n, tier in enumerate(tiers):
        paths = tier_paths(tier, args)
        if not paths or (args.mapped_tiers and n >= args.mapped_tiers):
            continue
        lines, durations = tier_coverage(tier, paths, copy, out, jobs, module)
        fresh = [line for line in lines
                 if not any(line in earlier for earlier in result["tier_lines"])]
        result["tier_lines"].append(lines)
        if not result["import_tests"]:
            result["import_tests"] = sorted(durations)
        result["durations"].update(durations)
        result["tiers"].append({"label": tier.label, "tests": len(durations),
                                "lines_judged": len(fresh)})
    if not any(result["tier_lines"]):
        raise SystemExit(f"mutation: coverage recorded nothing for {module}")
    result["uses"] = import_time_uses((copy / module).read_text())
    result["statement_starts"] = statement_starts((copy / module).read_text())
    (out / "map.json").write_text(json.dumps(result))
    return result


def changed_since(rev: str, path: str) -> set:
    """Lines of ``path`` added or changed since ``rev`` (git diff -U0)."""
    import re

    diff = subprocess.run(["git", "diff", "-U0", rev, "--", path], cwd=REPO,
                          capture_output=True, text=True, check=True).stdout
    lines: set = set()
    for match in re.finditer(r"^@@ -\S+ \+(\d+)(?:,(\d+))? @@", diff, re.MULTILINE):
        start, count = int(match.group(1)), int(match.group(2) or 1)
        lines.update(range(start, start + count))
    return lines


def position(item) -> tuple:
    """A mutant's place, the same in every session of the same code (job ids
    are random)."""
    spec = item.mutations[0]
    return (str(spec.module_path), tuple(spec.start_pos), spec.operator_name, spec.occurrence)


def mutant_lines(item) -> set:
    spec = item.mutations[0]
    return set(range(spec.start_pos[0], spec.end_pos[0] + 1))


def statement_lines(cmap: dict, item) -> set:
    """A mutant's lines and the first lines of their statements (as coverage
    records them: see probe.statement_starts)."""
    lines = mutant_lines(item)
    starts = cmap.get("statement_starts", {})
    return lines | {starts[str(line)] for line in lines if str(line) in starts}


def stable_sample(items: list, count: int, seed: int, source: str) -> list:
    """``count`` of ``items``, chosen by a hash of what each mutant is (its
    operator, the source line it changes, its column, the seed), not where:
    an edit elsewhere in the file leaves the sample as it was."""
    import hashlib

    lines = source.splitlines()

    def rank(item) -> str:
        spec = item.mutations[0]
        row, column = spec.start_pos
        text = lines[row - 1].strip() if 0 < row <= len(lines) else ""
        key = f"{seed}|{spec.operator_name}|{text}|{column}|{spec.occurrence if not text else ''}"
        return hashlib.sha256(key.encode()).hexdigest()

    return sorted(items, key=rank)[:count]


def described(mutated: config.MutatedFile, items: list, source: str) -> dict:
    """{job id: mutant} for ``items``: file, operator, original and mutated
    source line (stripped), enclosing function and diff, as the report and
    mutation/equivalent.toml name a mutant (cosmic-ray applied in memory)."""
    import cosmic_ray.plugins
    from cosmic_ray.mutating import _make_diff, mutate_code

    found = {}
    for item in items:
        spec = item.mutations[0]
        operator = cosmic_ray.plugins.get_operator(spec.operator_name)(
            **(getattr(spec, "operator_args", None) or {}))
        try:
            code = mutate_code(source, operator, spec.occurrence)
        except Exception:     # cosmic-ray cannot apply it: exec reports that as an error
            continue
        if code is None:
            continue
        diff = "\n".join(_make_diff(source, code, mutated.path))
        original, changed = diff_lines(diff)
        found[item.job_id] = {"file": mutated.path, "operator": spec.operator_name,
                              "original": original, "mutated": changed,
                              "within": enclosing(source, spec.start_pos[0]), "diff": diff}
    return found


def listed_equivalents(mutants: dict) -> dict:
    """{job id: diff} of the ``described`` mutants mutation/equivalent.toml
    lists: not run."""
    equivalents = load_equivalents()
    return {job_id: m["diff"] for job_id, m in mutants.items()
            if equivalents and is_equivalent(m, equivalents)}


def mutate_file(mutated: config.MutatedFile, args, root: Path) -> list:
    """Run every selected mutant of one file; the shards' session files."""
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import WorkerOutcome, WorkResult

    stem = Path(mutated.path).stem.lstrip("_") or "module"
    fdir = root / stem
    fdir.mkdir(parents=True, exist_ok=True)
    base = package_copy(fdir / "w0")
    module = PACKAGE_PARTS["backends"] + "/" + Path(mutated.path).name
    env = environment(base)
    cmap = coverage_map(mutated, base, fdir, args.jobs, args)
    session = fdir / "session.sqlite"
    session.unlink(missing_ok=True)
    cosmic_ray_config(fdir / "init.toml", module, "true")
    run([tool("cosmic-ray"), "init", str(fdir / "init.toml"), str(session)], base, env, "cosmic-ray init")
    run([tool("cr-filter-operators"), str(session), str(fdir / "init.toml")], base, env,
        "cr-filter-operators")
    with use_db(str(session), WorkDB.Mode.open) as db:
        pending = sorted(db.pending_work_items, key=position)
        chosen = pending
        if args.since:
            recent = changed_since(args.since, mutated.path)
            chosen = [i for i in chosen if mutant_lines(i) & recent]
        if args.sample:
            # reached: on lines the first tier's tests execute
            reached = [i for i in chosen
                       if tier_tests(cmap, cmap["tier_lines"][0], statement_lines(cmap, i),
                                     first=True)]
            chosen = sorted(stable_sample(reached, args.sample, args.seed,
                                          (base / module).read_text()), key=position)
        keep = {i.job_id for i in chosen}
        dropped = [i.job_id for i in pending if i.job_id not in keep]
        if dropped:
            db.set_multiple_results(dropped, WorkResult(output=NOT_SELECTED,
                                                        worker_outcome=WorkerOutcome.SKIPPED))
        if args.rejudge or not args.run_equivalents:
            mutants = described(mutated, chosen, (base / module).read_text())
        if args.rejudge:
            # every mutant the earlier report did not see killed or listed as
            # equivalent: its survivors, and the mutants of code written since
            # (one cosmic-ray cannot apply is known by its place: an error again)
            done = settled(args.rejudge, mutated.path)
            earlier_run = json.loads(Path(args.rejudge).read_text())["run"]
            if earlier_run.get("sample") or earlier_run.get("since"):
                # a sample's (or a --since run's) report judges its own
                # standing mutants again, not the rest of the file
                standing = {mutant_key(m) for m in rejudged(args.rejudge, mutated.path)}
                done |= {mutant_key(m) for m in mutants.values()} - standing
            if args.unseen:
                done |= {mutant_key(m) for m in rejudged(args.rejudge, mutated.path)}
            errors = {(m["line"], m["operator"], m["occurrence"])
                      for m in rejudged(args.rejudge, mutated.path) if m["outcome"] == "error"}
            present = {mutant_key(m) for m in mutants.values()}
            chosen = [i for i in chosen if i.job_id in mutants
                      if mutant_key(mutants[i.job_id]) not in done] + \
                [i for i in chosen if i.job_id not in mutants and (
                    i.mutations[0].start_pos[0], i.mutations[0].operator_name,
                    i.mutations[0].occurrence) in errors]
            (fdir / "present.json").write_text(json.dumps(sorted(present)))
            again = {i.job_id for i in chosen}
            db.set_multiple_results([job_id for job_id in keep if job_id not in again],
                                    WorkResult(output=NOT_SELECTED,
                                               worker_outcome=WorkerOutcome.SKIPPED))
        if not args.run_equivalents:
            listed = listed_equivalents({i.job_id: mutants[i.job_id] for i in chosen
                                         if i.job_id in mutants})
            for job_id, diff in listed.items():
                db.set_result(job_id, WorkResult(output=LISTED_EQUIVALENT, diff=diff,
                                                 worker_outcome=WorkerOutcome.SKIPPED))
            chosen = [i for i in chosen if i.job_id not in listed]
    say(f"{mutated.path}: {len(pending)} mutants, {len(chosen)} selected, "
        f"{args.jobs} shard(s)")
    shards = []
    processes = []
    for k in range(max(1, args.jobs)):
        sdir = fdir / f"shard{k}"
        sdir.mkdir(exist_ok=True)
        copy = package_copy(sdir / "w", origin=base)
        db_path = sdir / "session.sqlite"
        shutil.copy2(session, db_path)
        with use_db(str(db_path), WorkDB.Mode.open) as db:
            others = [i.job_id for n, i in enumerate(sorted(db.pending_work_items, key=position))
                      if n % max(1, args.jobs) != k]
            if others:
                db.set_multiple_results(others, WorkResult(output=OTHER_SHARD,
                                                           worker_outcome=WorkerOutcome.SKIPPED))
        (sdir / "probe.json").write_text(json.dumps({
            "original": str(base / module), "mutated": str(copy / module),
            "map": str(fdir / "map.json"), "cwd": str(copy),
            "pytest_args": [f"--backend={','.join(cmap['backends'])}"],
            "killers": args.killers}))
        conf = cosmic_ray_config(sdir / "config.toml", module,
                                 f"{sys.executable} -m mutation.probe {sdir}")
        log = open(sdir / "exec.log", "w")
        processes.append((subprocess.Popen([tool("cosmic-ray"), "exec", str(conf), str(db_path)],
                                           cwd=copy, env=environment(copy), stdout=log,
                                           stderr=subprocess.STDOUT, start_new_session=True),
                          log))
        shards.append(db_path)
    total = len(chosen)
    stopped = False
    while any(p.poll() is None for p, _ in processes):
        time.sleep(10)
        done = 0
        for db_path in shards:
            with use_db(str(db_path), WorkDB.Mode.open) as db:
                done += sum(1 for _, r in db.results
                            if r.worker_outcome != WorkerOutcome.SKIPPED)
        say(f"{mutated.path}: {done}/{total} mutants run")
        if args.deadline is not None and time.monotonic() > args.deadline and not stopped:
            # the mutants still running are left unjudged; --rejudge runs them
            say(f"{mutated.path}: time box reached, stopping the shards after {done}/{total}")
            for process, _ in processes:
                try:
                    os.killpg(process.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
            for process, _ in processes:
                process.wait()
            stopped = True
            args.partial.append(f"{mutated.path}: {done} of {total} selected mutants run "
                                f"(time box of {args.time_box:g} min)")
    for process, log in processes:
        log.close()
        if process.returncode != 0 and not stopped:
            raise SystemExit(f"mutation: cosmic-ray exec failed (exit {process.returncode}); "
                             f"see {log.name}")
    return shards, cmap["tiers"], base / module


def record_killers(sessions: dict, sources: dict) -> None:
    """Write each killed mutant's killer, and its unmutated run time, to
    config.SMOKE_KILLERS."""
    from .report import collect

    killers = {}
    for path, shards in sessions.items():
        durations = json.loads((Path(shards[0]).parents[1] / "map.json").read_text())["durations"]
        for mutant in collect({path: shards}, REPO, [], sources)[path]:
            if mutant.get("killer") and mutant.get("identity"):
                killers[mutant["identity"]] = {
                    "test": mutant["killer"],
                    "seconds": round(durations.get(mutant["killer"], 5.0), 2)}
    config.SMOKE_KILLERS.write_text(json.dumps(killers, indent=1, sort_keys=True) + "\n")
    say(f"{len(killers)} killers written to {config.SMOKE_KILLERS}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mutation", description=__doc__)
    parser.add_argument("--files", default=",".join(config.DEFAULT_FILES),
                        help=f"comma-separated, from: {', '.join(config.FILES)}")
    parser.add_argument("--since", metavar="REV",
                        help="only mutants on lines changed since REV (git diff)")
    parser.add_argument("--sample", type=int, default=0,
                        help="run N mutants drawn (with --seed) from those the contract reaches")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--smoke", action="store_true",
                        help=f"the fixed sample .ci/run runs: {config.SMOKE}")
    parser.add_argument("--record-killers", action="store_true",
                        help=f"with --smoke: judge the sample by every tier and write the test "
                             f"that killed each mutant to {config.SMOKE_KILLERS.name}")
    parser.add_argument("--tests", metavar="MODULES",
                        help="judge by these contract modules only (comma-separated names "
                             "in suite/, e.g. test_roundtrip.py); default: all")
    parser.add_argument("--tiers", type=int, default=0,
                        help="judge by the first N tiers of each file's tests only "
                             "(mutation/config.py; default: all)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--workdir", default=str(Path(tempfile.gettempdir()) /
                                                 "celery-conformance-mutation"),
                        help="where the package copies and sessions go (default: %(default)s)")
    parser.add_argument("--out", default=str(REPO / "reports"))
    parser.add_argument("--run-equivalents", action="store_true",
                        help="also run the mutants mutation/equivalent.toml lists (a killed "
                             "one is reported as a stale entry)")
    parser.add_argument("--rejudge", metavar="REPORT",
                        help="run only the mutants an earlier report (reports/mutation.json) "
                             "did not see killed or listed as equivalent (its survivors, and "
                             "those of code written since), and rewrite that report with "
                             "their outcomes")
    parser.add_argument("--unseen", action="store_true",
                        help="with --rejudge: run only the mutants the report never ran "
                             "(those a time box stopped before, and those of code written "
                             "since); its survivors stand as they were")
    parser.add_argument("--time-box", type=float, default=0, metavar="MINUTES",
                        help="stop after MINUTES and report the mutants run so far as a "
                             "partial run (a --rejudge run of that report runs the rest)")
    parser.add_argument("--strict", action="store_true",
                        help="exit 1 if a non-equivalent mutant survived")
    args = parser.parse_args(argv)
    args.killers, args.mapped_tiers = {}, 0
    if args.smoke:
        args.files, args.sample, args.seed = (
            config.SMOKE["file"], config.SMOKE["count"], config.SMOKE["seed"])
        args.strict = True
        _SHARED["HYPOTHESIS_PROFILE"] = config.SMOKE["hypothesis_profile"]
        if not args.record_killers and config.SMOKE_KILLERS.exists():
            args.killers = json.loads(config.SMOKE_KILLERS.read_text())
            args.mapped_tiers = 1
        elif not args.record_killers:
            say(f"{config.SMOKE_KILLERS.name} is missing: every tier is mapped (python -m "
                f"mutation --smoke --record-killers writes it)")
    elif args.record_killers:
        parser.error("--record-killers records the smoke sample's killers: use it with --smoke")
    if args.unseen and not args.rejudge:
        parser.error("--unseen goes with --rejudge REPORT: it runs what that report never ran")
    if args.rejudge:
        if args.sample or args.since or args.smoke:
            parser.error("--rejudge runs an earlier report's survivors: no --sample, "
                         "--since or --smoke with it")
        try:
            args.files = ",".join(json.loads(Path(args.rejudge).read_text())["files"])
        except (OSError, ValueError, KeyError) as exc:
            parser.error(f"--rejudge {args.rejudge}: not a mutation report ({exc})")
    files = [f.strip() for f in args.files.split(",") if f.strip()]
    unknown = [f for f in files if f not in config.FILES]
    if unknown:
        parser.error(f"not a mutated file: {unknown}; choose from {', '.join(config.FILES)}")
    if tool("cosmic-ray") is None:
        parser.error("cosmic-ray is not installed: pip install -e '.[mutation]'")
    root = Path(args.workdir)
    root.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    args.deadline = started + args.time_box * 60 if args.time_box else None
    args.partial = []
    sessions, judges, sources = {}, {}, {}
    broker = start_stores([b for path in files
                           for b in judging_backends(config.FILES[path], args)], root)
    try:
        for path in files:
            if args.deadline is not None and time.monotonic() > args.deadline:
                args.partial.append(f"{path}: not started (time box of {args.time_box:g} min)")
                continue
            sessions[path], judges[path], sources[path] = mutate_file(config.FILES[path], args,
                                                                      root)
    finally:
        broker.stop_all()
    present = {path: {tuple(k) for k in json.loads(
        (root / (Path(path).stem.lstrip("_") or "module") / "present.json").read_text())}
        for path in sessions} if args.rejudge else None
    summary = write_reports(sessions, Path(args.out), REPO,
                            {"files": files, "since": args.since, "sample": args.sample,
                             "rejudge": args.rejudge, "unseen": args.unseen,
                             "seed": args.seed, "judges": judges,
                             "seconds": round(time.monotonic() - started),
                             **({"partial": "; ".join(args.partial)} if args.partial else {})},
                            present, sources)
    say(summary["headline"])
    if args.record_killers:
        record_killers(sessions, sources)
    if args.strict and summary["survived"]:
        say("survivors that are not listed as equivalent: see the report")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
