"""A whole project: find its Python files, name their modules, read the files
that changed since the last run (in parallel when there are many), and
combine every file's facts into ranked findings.

Module names come from the path below the analyzed root: a file's module is
the dotted path from the highest directory above it that still has an
`__init__.py` (so `src/` layouts and a root that is itself a package work);
a file outside any package is its stem.
"""
from __future__ import annotations

import multiprocessing
import os
import threading
import time
from dataclasses import dataclass, field

from . import cache as cache_mod
from .combine import combine
from .findings import Finding
from .source import PARSE_ERRORS, parse_error, source_facts

SKIP_DIRS = {"__pycache__", "site-packages", "node_modules"}
PARALLEL_FROM = 64          # files to read before a pool of processes pays off


@dataclass
class Report:
    """`findings`: ranked, best first. `files`: Python files found. `parsed`:
    those read and parsed this run. `skipped`: [path, reason] of files that do
    not parse. `cached`: files whose facts came from the cache."""
    root: str
    findings: list[Finding] = field(default_factory=list)
    files: int = 0
    parsed: int = 0
    skipped: list[list[str]] = field(default_factory=list)
    cached: int = 0
    cache_dir: str | None = None
    seconds: float = 0.0


def _join(base: str, rel: str) -> str:
    return os.path.normpath(os.path.join(base, rel))


def iter_files(root: str) -> list[str]:
    """Relative paths of the .py files under root (sorted), leaving out hidden
    directories, __pycache__, site-packages, node_modules and virtualenvs."""
    if os.path.isfile(root):
        return [os.path.basename(root)]
    out = []
    for directory, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIP_DIRS
                         and not os.path.exists(os.path.join(directory, d, "pyvenv.cfg")))
        rel = os.path.relpath(directory, root)
        for name in files:
            if name.endswith(".py"):
                out.append(name if rel == "." else os.path.join(rel, name))
    return sorted(out)


class ModuleNamer:
    """Dotted module names for files, asking the file system once per directory."""

    def __init__(self):
        self._is_package: dict[str, bool] = {}

    def is_package(self, directory: str) -> bool:
        if directory not in self._is_package:
            self._is_package[directory] = os.path.isfile(os.path.join(directory, "__init__.py"))
        return self._is_package[directory]

    def __call__(self, path: str) -> str:
        directory, name = os.path.split(os.path.abspath(path))
        stem = name[:-3] if name.endswith(".py") else name
        parts = [] if stem == "__init__" else [stem]
        while self.is_package(directory):
            directory, package = os.path.split(directory)
            if not package:
                break
            parts.append(package)
        return ".".join(reversed(parts)) or stem


def _read_one(job):
    """(rel, facts or None, error or None) for one file: runs in pool workers."""
    rel, path, module = job[:3]
    try:
        with open(path, "rb") as fh:
            source = fh.read()
        return rel, source_facts(source, module, path), None
    except PARSE_ERRORS as exc:
        return rel, None, parse_error(exc)
    except OSError as exc:
        return rel, None, f"cannot be read: {exc.strerror or exc}"


def _read_all(jobs, progress, workers):
    total = len(jobs)
    if progress:
        progress(0, total)
    if len(jobs) < PARALLEL_FROM or workers < 2:
        results = map(_read_one, jobs)
        pool = None
    else:
        method = "fork" if "fork" in multiprocessing.get_all_start_methods() and \
            threading.active_count() == 1 else "spawn"
        pool = multiprocessing.get_context(method).Pool(workers)
        # the largest files first, in small chunks: the workers end together
        jobs = sorted(jobs, key=lambda job: -job[3])
        results = pool.imap_unordered(_read_one, jobs, chunksize=max(1, min(4, total // 256)))
    try:
        for done, result in enumerate(results, start=1):
            if progress:
                progress(done, total)
            yield result
    finally:
        if pool is not None:
            pool.close()
            pool.join()


def analyze_project(root: str, *, cache: bool | str = True, progress=None,
                    workers: int | None = None) -> Report:
    """Analyze every Python file under `root` (a directory, or one file).

    `cache`: True for the default cache directory (analyzer/cache.py), a
    directory path, or False for none. `progress(done, total)` is called as
    changed files are read. `workers`: processes reading files (default: the
    number of CPUs). Never imports or runs the project's code.
    """
    started = time.perf_counter()
    if not os.path.exists(root):
        raise FileNotFoundError(f"{root} does not exist")
    report = Report(root=root)
    cache_dir = (cache_mod.default_dir(root) if cache is True else cache or None)
    report.cache_dir = cache_dir
    base = os.path.dirname(root) if os.path.isfile(root) else root
    rels = iter_files(root)
    report.files = len(rels)
    namer = ModuleNamer()
    current = {}
    for rel in rels:
        path = _join(base, rel)
        try:
            st = os.stat(path)
        except OSError:
            continue
        current[rel] = [st.st_mtime_ns, st.st_size, namer(path)]

    index = cache_mod.load_index(cache_dir) if cache_dir else {}
    old_files = index.get("files", {})
    unchanged = {rel for rel, key in current.items()
                 if isinstance(old_files.get(rel), list) and old_files[rel][:3] == key}
    if index and unchanged == set(current) == set(old_files) and index.get("root") == root:
        try:
            report.findings = [Finding.from_json(f) for f in index["findings"]]
            report.skipped = [[_join(base, rel), e[3]] for rel, e in old_files.items()
                              if e[3]]
            report.cached = len(current)
            report.seconds = time.perf_counter() - started
            return report
        except (KeyError, TypeError, ValueError, IndexError):
            unchanged = set()

    old_facts = cache_mod.load_facts(cache_dir) if cache_dir and unchanged else {}
    facts, files, jobs = {}, {}, []
    for rel, key in current.items():
        if rel in unchanged and (rel in old_facts or old_files[rel][3]):
            files[rel] = old_files[rel]
            if rel in old_facts:
                facts[rel] = old_facts[rel]
            report.cached += 1
        else:
            jobs.append((rel, _join(base, rel), key[2], key[1]))
    for rel, file_facts, error in _read_all(jobs, progress, workers or os.cpu_count() or 1):
        files[rel] = current[rel] + [error]
        if file_facts is not None:
            facts[rel] = file_facts
        report.parsed += 1
    report.skipped = sorted([_join(base, rel), entry[3]]
                            for rel, entry in files.items() if entry[3])
    by_path = {_join(base, rel): facts[rel] for rel in sorted(facts)}
    report.findings = combine(by_path)
    if cache_dir:
        cache_mod.save(cache_dir, root, files, [f.to_json() for f in report.findings],
                       facts if jobs or len(facts) != len(old_facts) else None)
    report.seconds = time.perf_counter() - started
    return report
