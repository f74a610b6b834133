"""The plan: what to record, and how much.

A plan names *targets* and a *level*. Targets are matched against code objects
the first time each one runs; the level says how much is recorded for a match.

Plan file (`.cinescope/plan.toml`)::

    level = "debug"                      # minimal | debug | full
    trace = ["bank.*", "bank.accounts:Account"]

    [levels]                             # per-target levels (targets are added to trace)
    "bank.transfer:move" = "full"

    [buffer]
    size = 65536                         # records per thread buffer
    overflow = "drop_oldest"             # drop_oldest | drop_newest | block

    [values]
    max_depth = 3
    max_items = 20
    max_string = 200
    max_bytes = 64

    [redact]
    names = ["pin"]                      # added to the defaults
    defaults = true                      # keep password, token, secret, ...

    [invariants]                         # checked on a recording (cinescope anomalies)
    "bank.accounts:Account" = ["balance >= 0", "len(history) <= 100"]

    [explain]                            # an optional language model (docs/anomalies.md)
    url = "http://127.0.0.1:8080/v1"
    model = "local-model"
    key_env = "MY_LLM_KEY"               # the variable holding its key (never the key)
    timeout = 30

Targets: a module (`bank.accounts`), a glob over module names (`bank.*`), a
class (`bank.accounts:Account`) or a function (`bank.transfer:move`,
`bank.accounts:Account.deposit`). A function target includes the functions
nested in it; a class target includes its methods and nested classes.
"""
from __future__ import annotations

import ast
import fnmatch
import importlib.machinery
import importlib.util
import os
import sys
import tomllib
from dataclasses import dataclass, field, asdict

from .invariants import InvariantError, compile_invariant

LEVELS = ("minimal", "debug", "full")
LEVEL_RANK = {name: rank for rank, name in enumerate(LEVELS, start=1)}
OVERFLOW_POLICIES = ("drop_oldest", "drop_newest", "block")
DEFAULT_REDACT = ("password", "passwd", "token", "secret", "api_key", "apikey",
                  "authorization", "cookie")


class PlanError(ValueError):
    """A plan that cannot be used. The message says what to fix."""


@dataclass(frozen=True)
class Target:
    """One selector of a plan: a module, a module glob, or module:qualname."""
    spec: str
    module: str
    qualname: str | None
    level: str

    @property
    def is_glob(self) -> bool:
        return any(ch in self.module for ch in "*?[")

    def matches_module(self, module: str) -> bool:
        if self.is_glob:
            return fnmatch.fnmatchcase(module, self.module)
        return module == self.module

    def matches(self, module: str, qualname: str) -> bool:
        if not self.matches_module(module):
            return False
        if self.qualname is None:
            return True
        return qualname == self.qualname or qualname.startswith(self.qualname + ".")


@dataclass
class ValueLimits:
    max_depth: int = 3
    max_items: int = 20
    max_string: int = 200
    max_bytes: int = 64


@dataclass
class Plan:
    level: str = "debug"
    targets: list[Target] = field(default_factory=list)
    buffer_size: int = 65536
    overflow: str = "drop_oldest"
    values: ValueLimits = field(default_factory=ValueLimits)
    redact: tuple[str, ...] = DEFAULT_REDACT
    source: str | None = None  # the plan file, if any
    # "module:Class" -> expressions over its recorded state (capture/invariants.py)
    invariants: dict[str, tuple[str, ...]] = field(default_factory=dict)
    explain: dict = field(default_factory=dict)   # [explain]: url, model, key_env, timeout

    @property
    def max_level(self) -> str:
        ranks = [LEVEL_RANK[t.level] for t in self.targets] or [LEVEL_RANK[self.level]]
        return LEVELS[max(ranks) - 1]

    def level_for(self, module: str, qualname: str) -> str | None:
        """The level for a code object, or None when the plan does not select it."""
        best = 0
        for target in self.targets:
            if target.matches(module, qualname):
                best = max(best, LEVEL_RANK[target.level])
        return LEVELS[best - 1] if best else None

    def to_dict(self) -> dict:
        return {
            "level": self.level,
            "trace": [t.spec if t.level == self.level else f"{t.spec}={t.level}"
                      for t in self.targets],
            "buffer": {"size": self.buffer_size, "overflow": self.overflow},
            "values": asdict(self.values),
            "redact": list(self.redact),
            "source": self.source,
            "invariants": {k: list(v) for k, v in self.invariants.items()},
        }

    @classmethod
    def from_dict(cls, data: dict) -> "Plan":
        """Inverse of to_dict, used to hand a plan to child processes."""
        plan = cls(level=data["level"], buffer_size=data["buffer"]["size"],
                   overflow=data["buffer"]["overflow"], values=ValueLimits(**data["values"]),
                   redact=tuple(data["redact"]), source=data.get("source"),
                   invariants={k: tuple(v) for k, v in (data.get("invariants") or {}).items()})
        plan.targets = [parse_target(spec, plan.level) for spec in data["trace"]]
        return plan


def check_level(level: object, where: str) -> str:
    if level not in LEVELS:
        raise PlanError(f"{where}: unknown level {level!r}; use one of {', '.join(LEVELS)}")
    return level  # type: ignore[return-value]


def parse_target(spec: str, default_level: str, where: str = "--trace") -> Target:
    """Parse `module`, `module.*`, `module:Qual.name`, optionally `=level`."""
    text = spec.strip()
    level = default_level
    if "=" in text:
        text, level = (part.strip() for part in text.rsplit("=", 1))
        check_level(level, f"{where} {spec!r}")
    module, _, qualname = text.partition(":")
    module, qualname = module.strip(), qualname.strip()
    if not module or (":" in text and not qualname):
        raise PlanError(f"{where}: {spec!r} is not a target; write a module (pkg.mod), "
                        "a glob (pkg.*), a class (pkg.mod:Class) or a function (pkg.mod:func)")
    parts = module.replace("*", "x").replace("?", "x").split(".")
    if not all(p.isidentifier() for p in parts) or (qualname and not all(
            p.isidentifier() for p in qualname.split("."))):
        raise PlanError(f"{where}: {spec!r} is not a valid target name")
    if qualname and any(ch in module for ch in "*?["):
        raise PlanError(f"{where}: {spec!r}: a glob cannot name a class or function")
    return Target(spec=text, module=module, qualname=qualname or None, level=level)


def load_plan_file(path: str) -> dict:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise PlanError(f"plan file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise PlanError(f"plan file {path} is not valid TOML: {exc}") from None
    except OSError as exc:
        raise PlanError(f"plan file {path} cannot be read: {exc.strerror}") from None


def _int_setting(table: dict, key: str, default: int, where: str, minimum: int = 1) -> int:
    value = table.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise PlanError(f"{where}: {key} must be a whole number >= {minimum}, not {value!r}")
    return value


_KNOWN_KEYS = {"level", "trace", "levels", "buffer", "values", "redact", "invariants",
               "explain"}
EXPLAIN_KEYS = {"url": str, "model": str, "key_env": str, "timeout": (int, float)}


def build_plan(plan_file: str | None = None, traces: list[str] | tuple[str, ...] = (),
               level: str | None = None) -> Plan:
    """Combine a plan file and command-line targets into one Plan."""
    data: dict = load_plan_file(plan_file) if plan_file else {}
    where = f"plan file {plan_file}" if plan_file else "plan"
    unknown = set(data) - _KNOWN_KEYS
    if unknown:
        raise PlanError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}; "
                        f"known keys are {', '.join(sorted(_KNOWN_KEYS))}")
    plan_level = check_level(level if level is not None else data.get("level", "debug"),
                             "--level" if level is not None else where)
    plan = Plan(level=plan_level, source=os.path.abspath(plan_file) if plan_file else None)

    trace = data.get("trace", [])
    if isinstance(trace, str):
        trace = [trace]
    if not isinstance(trace, list) or not all(isinstance(t, str) for t in trace):
        raise PlanError(f"{where}: trace must be a list of target strings")
    levels = data.get("levels", {})
    if not isinstance(levels, dict):
        raise PlanError(f"{where}: [levels] must be a table of target = level")
    targets = [parse_target(t, plan_level, where) for t in trace]
    for spec, lvl in levels.items():
        targets.append(parse_target(spec, check_level(lvl, f"{where} [levels] {spec!r}"), where))
    targets += [parse_target(t, plan_level) for t in traces]
    plan.targets = targets

    buffer = _table(data, "buffer", where)
    plan.buffer_size = _int_setting(buffer, "size", plan.buffer_size, f"{where} [buffer]", 16)
    plan.overflow = buffer.get("overflow", plan.overflow)
    if plan.overflow not in OVERFLOW_POLICIES:
        raise PlanError(f"{where} [buffer]: overflow must be one of "
                        f"{', '.join(OVERFLOW_POLICIES)}, not {plan.overflow!r}")
    values = _table(data, "values", where)
    limits = ValueLimits()
    for key in asdict(limits):
        setattr(limits, key, _int_setting(values, key, getattr(limits, key),
                                          f"{where} [values]", 0 if key == "max_depth" else 1))
    plan.values = limits
    redact = _table(data, "redact", where)
    names = redact.get("names", [])
    if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
        raise PlanError(f"{where} [redact]: names must be a list of non-empty strings")
    keep_defaults = redact.get("defaults", True)
    if not isinstance(keep_defaults, bool):
        raise PlanError(f"{where} [redact]: defaults must be true or false")
    plan.redact = tuple(dict.fromkeys((DEFAULT_REDACT if keep_defaults else ()) +
                                      tuple(n.lower() for n in names)))
    plan.invariants = _invariants(data, where)
    plan.explain = _explain(data, where)
    if not plan.targets:
        raise PlanError(f"{where} names no target: add trace = [\"your.module\"] to the plan "
                        "file or pass --trace your.module")
    return plan


def _invariants(data: dict, where: str) -> dict[str, tuple[str, ...]]:
    """[invariants]: "module:Class" = ["expr", ...], each expression checked now."""
    out: dict[str, tuple[str, ...]] = {}
    for spec, exprs in _table(data, "invariants", where).items():
        here = f"{where} [invariants] {spec!r}"
        target = None if "=" in spec else parse_target(spec, "debug", f"{where} [invariants]")
        if target is None or target.qualname is None or target.is_glob:
            raise PlanError(f"{here}: name a class as module:Class "
                            "(e.g. \"bank.accounts:Account\")")
        if isinstance(exprs, str):
            exprs = [exprs]
        if not isinstance(exprs, list) or not all(isinstance(e, str) for e in exprs):
            raise PlanError(f"{here}: give a list of expression strings, "
                            "e.g. [\"balance >= 0\"]")
        for expr in exprs:
            try:
                compile_invariant(expr)
            except InvariantError as exc:
                raise PlanError(f"{here}: invariant {expr!r} cannot be checked: {exc}") \
                    from None
        out[target.spec] = tuple(e.strip() for e in exprs)
    return out


def _explain(data: dict, where: str) -> dict:
    """[explain]: where an optional language model answers (docs/anomalies.md)."""
    table = _table(data, "explain", where)
    unknown = set(table) - set(EXPLAIN_KEYS)
    if unknown:
        hint = " (put the key in an environment variable and name it with key_env)" \
            if "key" in unknown or "api_key" in unknown else ""
        raise PlanError(f"{where} [explain]: unknown key(s) {', '.join(sorted(unknown))}; "
                        f"known keys are {', '.join(sorted(EXPLAIN_KEYS))}{hint}")
    for key, kind in EXPLAIN_KEYS.items():
        if key in table and (not isinstance(table[key], kind) or isinstance(table[key], bool)
                             or (kind is str and not table[key].strip())):
            raise PlanError(f"{where} [explain]: {key} must be "
                            f"{'a non-empty string' if kind is str else 'a number of seconds'}")
    if "timeout" in table and table["timeout"] <= 0:
        raise PlanError(f"{where} [explain]: timeout must be above 0 seconds")
    if "url" in table and not table["url"].startswith(("http://", "https://")):
        raise PlanError(f"{where} [explain]: url must start with http:// or https://, "
                        f"not {table['url']!r}")
    return dict(table)


def _table(data: dict, key: str, where: str) -> dict:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise PlanError(f"{where}: [{key}] must be a table")
    return value


# --- checking that targets exist, without importing or running user code ---

def _find_module_file(module: str, search_path: list[str]) -> tuple[bool, str | None]:
    """(exists, source file) for a dotted module name, found without importing it."""
    parts = module.split(".")
    spec = None
    path = search_path
    for i in range(len(parts)):
        name = ".".join(parts[: i + 1])
        if i == 0 and (name in sys.builtin_module_names or name in sys.modules):
            mod = sys.modules.get(name)
            if mod is None:
                spec = importlib.util.find_spec(name)
            else:
                spec = getattr(mod, "__spec__", None)
                if spec is None:
                    return True, getattr(mod, "__file__", None)
        else:
            spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None:
            return False, None
        path = list(spec.submodule_search_locations or [])
    origin = spec.origin if spec is not None else None
    if origin and origin.endswith(".py"):
        return True, origin
    return True, None


def _qualnames_in(source_file: str) -> set[str]:
    """Every class and function qualname defined in a source file (by ast)."""
    try:
        with open(source_file, "rb") as fh:
            tree = ast.parse(fh.read(), source_file)
    except (OSError, SyntaxError, ValueError):
        return set()
    names: set[str] = set()

    def walk(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                qual = f"{prefix}{child.name}"
                names.add(qual)
                walk(child, qual + "." if isinstance(child, ast.ClassDef) else qual + ".<locals>.")
            else:
                walk(child, prefix)

    walk(tree, "")
    return names


def check_targets(plan: Plan, search_path: list[str], main_module: str | None = None,
                  main_file: str | None = None) -> None:
    """Raise PlanError naming every target that matches nothing that exists.

    `main_module` / `main_file` describe the program being recorded: it runs as
    `__main__`, and may be targeted under that name or its own module name.
    """
    missing = []
    for target in plan.targets:
        if target.is_glob:
            prefix = target.module.split("*")[0].split("?")[0].split("[")[0].rstrip(".")
            if prefix and not _glob_prefix_exists(prefix, search_path, main_module):
                missing.append(f"{target.spec} (no module {prefix!r})")
            continue
        if target.module in ("__main__", main_module) and main_file:
            exists, source = True, main_file
        else:
            exists, source = _find_module_file(target.module, search_path)
        if not exists:
            missing.append(f"{target.spec} (no module {target.module!r})")
        elif target.qualname and source and target.qualname not in _qualnames_in(source):
            missing.append(f"{target.spec} (no class or function {target.qualname!r} "
                           f"in {target.module})")
    if missing:
        where = f"plan file {plan.source}" if plan.source else "--trace"
        raise PlanError(f"{where}: nothing to record for {'; '.join(missing)}; "
                        "check the spelling, or the directory you run from")


def _glob_prefix_exists(prefix: str, search_path: list[str], main_module: str | None) -> bool:
    if main_module and (main_module == prefix or main_module.startswith(prefix)):
        return True
    exists, _ = _find_module_file(prefix, search_path)
    if exists:
        return True
    # `bank*` style: some top-level name starting with the prefix
    head = prefix.split(".")[0]
    for entry in search_path:
        try:
            if any(name.startswith(head) for name in os.listdir(entry or ".")):
                return True
        except OSError:
            continue
    return False
