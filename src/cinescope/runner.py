"""Running a program as `python SCRIPT` or `python -m MODULE` would.

The program gets its own argv, sys.path[0], __main__ module, stdin, stdout
and stderr. An unhandled exception prints the traceback Python would print
(Cinescope's own frames removed) and exits 1; SystemExit keeps its code and
message; KeyboardInterrupt ends the process by SIGINT, as Python does.
Recording ends after the program's non-daemon threads and atexit handlers,
exactly where the interpreter would end it.
"""
from __future__ import annotations

import atexit
import builtins
import importlib.machinery
import os
import runpy
import signal
import sys
import types

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


class ProgramError(Exception):
    """The program cannot be started (no such script or module)."""


def prepare(script: str | None, module: str | None, args: list[str]) -> tuple[str, str]:
    """Check the program exists; set sys.path[0] as Python would.

    Returns (main alias, main file): the alias is the name under which plan
    targets may name the __main__ module.
    """
    if script is not None:
        path = script_path(script)
        if not os.path.isfile(path):
            raise ProgramError(f"can't open file {script!r}: no such file")
        # Python puts the directory of the script's real file first on the path
        sys.path[0] = os.path.dirname(os.path.realpath(path))
        alias = os.path.splitext(os.path.basename(path))[0]
        return alias, path
    sys.path[0] = os.getcwd()
    spec = _find_spec(module)
    if spec is None:
        raise ProgramError(f"no module named {module!r} (looked from {os.getcwd()})")
    if spec.submodule_search_locations:
        main = _find_spec(module + ".__main__")
        if main is None:
            raise ProgramError(f"{module!r} is a package and cannot be run: it has no __main__")
        return module + ".__main__", main.origin
    return module, spec.origin


def script_path(script: str) -> str:
    """The script's path as Python makes it: joined to the working directory,
    not normalized (`./x.py` stays `/cwd/./x.py` in __file__ and tracebacks)."""
    return script if os.path.isabs(script) else os.path.join(os.getcwd(), script)


def _find_spec(name: str):
    """Find a module without importing anything of the program's."""
    parts = name.split(".")
    path = None
    spec = None
    for i in range(len(parts)):
        spec = importlib.machinery.PathFinder.find_spec(".".join(parts[: i + 1]), path)
        if spec is None:
            return None
        path = spec.submodule_search_locations
    return spec


def _exit_status(code) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    return 1


def _trim(tb):
    """Drop the leading traceback entries that are Cinescope's own."""
    while tb is not None and tb.tb_frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        tb = tb.tb_next
    return tb


def run(recording, script: str | None, module: str | None, args: list[str], on_end) -> None:
    """Run the program under `recording`; `on_end(exit_status)` is called when
    the interpreter is about to exit. Returns normally or raises SystemExit."""
    ending = {"status": 0, "state": "finished", "interrupted": False}

    def at_exit():
        recording.finish(exit_status=ending["status"], status=ending["state"])
        on_end(ending["status"])
        if ending["interrupted"]:
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGINT)

    atexit.register(at_exit)   # first registered, so it runs after the program's own
    try:
        if script is not None:
            _run_script(script, args)
        else:
            sys.argv = [module] + list(args)
            runpy._run_module_as_main(module, alter_argv=True)
    except SystemExit as exc:
        ending["status"] = _exit_status(exc.code)
        ending["state"] = "finished" if ending["status"] == 0 else "failed"
        raise
    except KeyboardInterrupt as exc:
        ending.update(status=-signal.SIGINT, state="interrupted", interrupted=True)
        _print_uncaught(exc)
    except BaseException as exc:
        ending.update(status=1, state="failed")
        _print_uncaught(exc)
        raise SystemExit(1) from None


def _print_uncaught(exc: BaseException) -> None:
    """What Python prints for an uncaught exception, without Cinescope's frames
    (the default excepthook prints exc.__traceback__, whatever it is passed)."""
    exc.__traceback__ = _trim(exc.__traceback__)
    sys.excepthook(type(exc), exc, exc.__traceback__)


def _run_script(script: str, args: list[str]) -> None:
    path = script_path(script)
    sys.argv = [script] + list(args)
    main = types.ModuleType("__main__")
    main.__file__ = path
    main.__builtins__ = builtins
    main.__loader__ = importlib.machinery.SourceFileLoader("__main__", path)
    main.__spec__ = None
    main.__cached__ = None
    sys.modules["__main__"] = main
    with open(path, "rb") as fh:
        source = fh.read()
    code = compile(source, path, "exec", dont_inherit=True)
    exec(code, main.__dict__)
