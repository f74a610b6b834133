"""The analyzer's cache: each file's facts, keyed by path, mtime_ns and size.

Two msgpack files in one directory (PROJECT/.cinescope/analyze-cache by
default): `index.msgpack` holds, per file, what its entry was made from
(mtime_ns, size, module name, parse error) and the findings of the last run;
`facts.msgpack` holds each file's facts. A run where no file changed reads
the index alone. A cache that cannot be read, or was made by another version
of the analyzer or of Python, is ignored (and rewritten); one that cannot be
written is left as it is. Neither is ever an error.
"""
from __future__ import annotations

import hashlib
import os
import sys
import tempfile

import msgpack

from .facts import FACTS_VERSION

STAMP = [FACTS_VERSION, list(sys.version_info[:2])]
DEFAULT_DIR = os.path.join(".cinescope", "analyze-cache")


def default_dir(root: str) -> str:
    """PROJECT/.cinescope/analyze-cache, or a per-user cache directory when
    the project cannot be written to (an installed library, the stdlib)."""
    base = root if os.path.isdir(root) else os.path.dirname(root) or "."
    here = os.path.join(base, DEFAULT_DIR)
    probe = here
    while not os.path.exists(probe):
        probe = os.path.dirname(probe)
    if os.access(probe, os.W_OK):
        return here
    home = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    digest = hashlib.sha1(os.path.abspath(root).encode()).hexdigest()[:16]
    return os.path.join(home, "cinescope", "analyze", digest)


def _read(path: str):
    with open(path, "rb") as fh:
        data = msgpack.unpackb(fh.read(), raw=False, strict_map_key=False)
    if not isinstance(data, dict) or data.get("stamp") != STAMP:
        raise ValueError("another version")
    return data


def load_index(directory: str) -> dict:
    """{"files": {rel: [mtime_ns, size, module, error]}, "findings": [...],
    "root": ...}, or {} when there is no usable cache."""
    try:
        data = _read(os.path.join(directory, "index.msgpack"))
        if not isinstance(data.get("files"), dict) or not isinstance(data.get("findings"), list):
            return {}
        return data
    except Exception:        # a corrupt cache is ignored, never an error
        return {}


def load_facts(directory: str) -> dict:
    """{rel: facts}, or {} when there is no usable cache."""
    try:
        data = _read(os.path.join(directory, "facts.msgpack"))
        facts = data.get("facts")
        return facts if isinstance(facts, dict) else {}
    except Exception:
        return {}


def _write(path: str, data: dict) -> None:
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(msgpack.packb(data, use_bin_type=True))
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def save(directory: str, root: str, files: dict, findings: list, facts: dict | None) -> bool:
    """Write the index (and the facts, unless None: unchanged). False when the
    cache could not be written."""
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        if facts is not None:
            _write(os.path.join(directory, "facts.msgpack"), {"stamp": STAMP, "facts": facts})
        _write(os.path.join(directory, "index.msgpack"),
               {"stamp": STAMP, "root": root, "files": files, "findings": findings})
        return True
    except (OSError, ValueError, TypeError):
        return False
