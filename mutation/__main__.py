"""python -m mutation: mutate the reference backends, run the contract on
each mutant, report (see the package docstring)."""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import config
from .report import write_reports

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


def package_copy(target: Path) -> Path:
    """A copy of the package under ``target`` (mutated in place by cosmic-ray),
    with a pytest.ini of its own: the copy is pytest's rootdir, and nothing of
    the checkout (its conftest.py, its configuration) takes part."""
    if target.exists():
        shutil.rmtree(target)
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


def environment(copy: Path) -> dict:
    """The copy's package first on the path (before the installed one), this
    repository's ``mutation`` package after it."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(copy), str(REPO)])
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.setdefault("HYPOTHESIS_PROFILE", "ci")
    return env


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


def test_paths(args) -> list:
    """The contract modules the mutants are judged by (paths in a copy)."""
    if not args.tests:
        return list(config.TEST_PATHS)
    return [f"{PACKAGE_PARTS['suite']}/{name.strip()}" for name in args.tests.split(",")
            if name.strip()]


def pytest_args(mutated: config.MutatedFile) -> list:
    ignores = [f"--ignore={p}/{m}" for p in config.TEST_PATHS for m in config.IGNORED_TEST_MODULES]
    return [f"--backend={','.join(mutated.backends)}", *ignores]


def coverage_map(mutated: config.MutatedFile, copy: Path, out: Path, jobs: int,
                 paths: list) -> dict:
    """Which contract tests execute each line of the file, on the unmutated
    code, and how long each test takes."""
    from coverage import CoverageData

    env = environment(copy)
    env["COVERAGE_FILE"] = str(out / ".coverage")
    env["MUTATION_TIMING_FILE"] = str(out / "timing.json")
    module = PACKAGE_PARTS["backends"] + "/" + Path(mutated.path).name
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
               "-p", "mutation.timing", f"--cov={copy / PACKAGE_PARTS['backends']}",
               "--cov-context=test", "--cov-report=", *(["-n", str(jobs)] if jobs > 1 else []),
               *pytest_args(mutated), *paths]
    say(f"{mutated.path}: the contract on the unmutated code, with coverage "
        f"({' '.join(pytest_args(mutated))})")
    started = time.monotonic()
    done = subprocess.run(command, cwd=copy, env=env, capture_output=True, text=True)
    timing = json.loads((out / "timing.json").read_text()) if (out / "timing.json").exists() \
        else {"durations": {}, "failed": ["(no timing written)"]}
    if done.returncode != 0 or timing["failed"]:
        raise SystemExit(f"mutation: the contract fails on the unmutated {mutated.path} "
                         f"(exit {done.returncode}; failed: {timing['failed'][:10]}): a mutant "
                         f"can only be judged against a green run\n{done.stdout[-3000:]}")
    say(f"{mutated.path}: {len(timing['durations'])} tests in {time.monotonic() - started:.0f}s")
    data = CoverageData(basename=str(out / ".coverage"))
    data.read()
    target = str((copy / module).resolve())
    measured = next((f for f in data.measured_files() if Path(f).resolve() == Path(target)), None)
    if measured is None:
        raise SystemExit(f"mutation: coverage recorded nothing for {module}")
    lines: dict = {}
    import_lines = []
    for line, contexts in data.contexts_by_lineno(measured).items():
        tests = sorted({c.rsplit("|", 1)[0] for c in contexts if c})
        if tests:
            lines[str(line)] = tests
        if "" in contexts:
            import_lines.append(str(line))
    result = {"lines": lines, "import_lines": import_lines, "durations": timing["durations"]}
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
    cmap = coverage_map(mutated, base, fdir, args.jobs, test_paths(args))
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
            # reached: on a line some test executes (not only the module's import)
            reached = [i for i in chosen
                       if any(str(line) in cmap["lines"] for line in mutant_lines(i))]
            chosen = sorted(random.Random(args.seed).sample(reached, min(args.sample, len(reached))),
                            key=position)
        keep = {i.job_id for i in chosen}
        dropped = [i.job_id for i in pending if i.job_id not in keep]
        if dropped:
            db.set_multiple_results(dropped, WorkResult(output=NOT_SELECTED,
                                                        worker_outcome=WorkerOutcome.SKIPPED))
    say(f"{mutated.path}: {len(pending)} mutants, {len(chosen)} selected, "
        f"{args.jobs} shard(s)")
    shards = []
    processes = []
    for k in range(max(1, args.jobs)):
        sdir = fdir / f"shard{k}"
        sdir.mkdir(exist_ok=True)
        copy = package_copy(sdir / "w")
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
            "pytest_args": pytest_args(mutated)}))
        conf = cosmic_ray_config(sdir / "config.toml", module,
                                 f"{sys.executable} -m mutation.probe {sdir}")
        log = open(sdir / "exec.log", "w")
        processes.append((subprocess.Popen([tool("cosmic-ray"), "exec", str(conf), str(db_path)],
                                           cwd=copy, env=environment(copy), stdout=log,
                                           stderr=subprocess.STDOUT), log))
        shards.append(db_path)
    total = len(chosen)
    while any(p.poll() is None for p, _ in processes):
        time.sleep(10)
        done = 0
        for db_path in shards:
            with use_db(str(db_path), WorkDB.Mode.open) as db:
                done += sum(1 for _, r in db.results
                            if r.worker_outcome != WorkerOutcome.SKIPPED)
        say(f"{mutated.path}: {done}/{total} mutants run")
    for process, log in processes:
        log.close()
        if process.returncode != 0:
            raise SystemExit(f"mutation: cosmic-ray exec failed (exit {process.returncode}); "
                             f"see {log.name}")
    return shards


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
    parser.add_argument("--tests", metavar="MODULES",
                        help="judge by these contract modules only (comma-separated names "
                             "in suite/, e.g. test_roundtrip.py); default: all but the "
                             "fault tests")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--workdir", default=str(Path(tempfile.gettempdir()) /
                                                 "celery-conformance-mutation"),
                        help="where the package copies and sessions go (default: %(default)s)")
    parser.add_argument("--out", default=str(REPO / "reports"))
    parser.add_argument("--strict", action="store_true",
                        help="exit 1 if a non-equivalent mutant survived")
    args = parser.parse_args(argv)
    if args.smoke:
        args.files, args.sample, args.seed = (config.SMOKE["file"], config.SMOKE["count"],
                                              config.SMOKE["seed"])
        args.strict = True
    files = [f.strip() for f in args.files.split(",") if f.strip()]
    unknown = [f for f in files if f not in config.FILES]
    if unknown:
        parser.error(f"not a mutated file: {unknown}; choose from {', '.join(config.FILES)}")
    if tool("cosmic-ray") is None:
        parser.error("cosmic-ray is not installed: pip install -e '.[mutation]'")
    root = Path(args.workdir)
    root.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    sessions = {}
    for path in files:
        sessions[path] = mutate_file(config.FILES[path], args, root)
    summary = write_reports(sessions, Path(args.out), REPO,
                            {"files": files, "since": args.since, "sample": args.sample,
                             "seed": args.seed, "seconds": round(time.monotonic() - started)})
    say(summary["headline"])
    if args.strict and summary["survived"]:
        say("survivors that are not listed as equivalent: see the report")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
