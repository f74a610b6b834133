"""One module's source, saved or not: its facts and its findings.

`analyze_source` is what an editor calls on an unsaved buffer: it is pure
(no file is read, nothing is imported or run) and never raises for a buffer
that does not parse (it returns no findings then).
"""
from __future__ import annotations

import ast
import os
import warnings

from .combine import combine
from .facts import file_facts
from .findings import Finding

PARSE_ERRORS = (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError)


def parse(source: str | bytes, path: str) -> ast.Module:
    """ast.parse without the SyntaxWarnings of old escape sequences.
    Raises one of PARSE_ERRORS for source that does not parse."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ast.parse(source, path)


def parse_error(exc: BaseException) -> str:
    """A one-line reason a file was skipped."""
    if isinstance(exc, SyntaxError):
        return f"{type(exc).__name__}: {exc.msg} (line {exc.lineno})"
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}".rstrip(": ")


def source_facts(source: str | bytes, module: str, path: str) -> dict:
    """The facts (analyzer/facts.py) of one module's source; raises one of
    PARSE_ERRORS when it does not parse."""
    is_package = os.path.basename(path) == "__init__.py"
    return file_facts(parse(source, path), module, is_package)


def analyze_source(text: str, module: str, path: str) -> list[Finding]:
    """The findings of one module alone (`module`: its dotted name, `path`:
    where findings say they are), ranked; [] when the text does not parse."""
    try:
        facts = source_facts(text, module, path)
    except PARSE_ERRORS:
        return []
    return combine({path: facts})
