"""Per-file facts: what one module's code does, read with `ast` (never run).

`file_facts(tree, module)` walks a module once and returns plain data
(dicts, lists, strings, ints: msgpack- and JSON-able), so that the project
analysis can cache it per file and combine files without parsing them again:

    {"module": "bank.workers", "imports": {local name: dotted name},
     "classes": {"Account": {"line", "end_line", "bases": [dotted], "chan_attrs": {attr: chan}}},
     "functions": {qualname: {...}}}       # see _Function.done(); "<module>" is the body

The calls part (channels, actors, arguments) is in analyzer/calls.py, the
state and exceptions part in analyzer/changes.py.

Names are resolved through the module's imports to dotted names
("queue.Queue", "bank.transfer.move"); the project stage (`combine`) turns
the dotted names of the project's own code into plan targets.
"""
from __future__ import annotations

import ast

from .calls import CallFacts
from .changes import ChangeFacts

FACTS_VERSION = 4



# fields that never hold a node worth visiting (contexts, operators, names)
_SCALAR = {"ctx", "op", "ops", "id", "arg", "attr", "name", "names", "module", "level",
           "kind", "type_comment", "conversion", "is_async", "simple", "kwd_attrs", "rest",
           "asname"}
_CHILD_FIELDS: dict[type, tuple[str, ...]] = {}


def _nothing(node):
    pass


class _Function:
    """What one function (or the module body, "<module>") does."""

    def __init__(self, qualname, node, cls, params):
        self.qualname, self.node, self.cls, self.params = qualname, node, cls, params
        self.self_name = params[0] if cls and params else None
        self.complexity = 1
        self.writes: dict[str, int] = {}       # self.attr changed -> first line
        self.reads: set[str] = set()           # self.attr read
        self.calls: set = set()                # (kind, name)
        self.spawns: list = []
        self.raises: list = []                 # [exception, line]
        self.handlers: list = []               # [[caught], swallowed, broad, line]
        self.channels: list = []               # [kind, line, [names]]
        self.chan_locals: dict[str, int] = {}  # local name -> index in channels
        self.ops: list = []                    # [name or "self.attr", op, line]
        self.passes: list = []                 # [callref, position or keyword, name]
        self.gwrites: set[str] = set()
        self.loads: set[str] = set()
        self.global_decl: set[str] = set()
        self.locals: set[str] = set(params)

    def done(self, module_globals):
        node = self.node
        keep = set(self.params) | set(self.chan_locals)
        greads = (self.loads - self.locals) & module_globals
        gwrites = {n for n in self.gwrites if n in self.global_decl or n not in self.locals}
        facts = {
            "line": getattr(node, "lineno", 1), "end_line": getattr(node, "end_lineno", 1),
            "cls": self.cls, "params": self.params, "complexity": self.complexity,
            "static": self.cls is not None and self.self_name is None,
            "writes": self.writes, "reads": sorted(self.reads), "calls": sorted(map(list, self.calls)),
            "spawns": self.spawns, "raises": self.raises, "handlers": self.handlers,
            "channels": self.channels, "chan_locals": self.chan_locals,
            "ops": [o for o in self.ops if o[0].startswith("self.") or o[0] in keep
                    or o[0] not in self.locals],
            "passes": [p for p in self.passes if p[2] in keep],
            "gwrites": sorted(gwrites & module_globals), "greads": sorted(greads),
        }
        return {k: v for k, v in facts.items() if v or k == "cls"}   # small cache


class _Visitor(CallFacts, ChangeFacts):
    def __init__(self, module: str, is_package: bool):
        self.module, self.is_package = module, is_package
        self.imports: dict[str, str] = {}
        self.classes: dict[str, dict] = {}
        self.functions: dict[str, _Function] = {}
        self.module_names: set[str] = set()
        self.loop_depth = 0
        self.fn = self.functions["<module>"] = _Function("<module>", None, None, [])
        self.cls_stack: list[str] = []
        self.dispatch = {}

    # -- names ----------------------------------------------------------------------
    def dotted(self, node) -> str | None:
        parts = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if not isinstance(node, ast.Name):
            return None
        head = node.id
        if head in self.imports:
            head = self.imports[head]
        elif head in self.module_names and (self.fn.node is None or head not in self.fn.locals):
            head = f"{self.module}.{head}"
        parts.append(head)
        return ".".join(reversed(parts))

    def callref(self, func):
        if isinstance(func, ast.Name):
            return ["d", self.dotted(func)]
        if isinstance(func, ast.Attribute):
            base = func.value
            if isinstance(base, ast.Name) and base.id == self.fn.self_name:
                return ["self", func.attr]
            if isinstance(base, ast.Call) and isinstance(base.func, ast.Name) \
                    and base.func.id == "super":
                return ["super", func.attr]
            root = base
            while isinstance(root, ast.Attribute):
                root = root.value
            if isinstance(root, ast.Name) and root.id not in self.fn.locals and (
                    root.id in self.imports or root.id in self.module_names):
                return ["d", self.dotted(func)]
            return ["attr", func.attr]
        return None

    def import_base(self, level: int, module: str | None) -> str:
        if not level:
            return module or ""
        parts = self.module.split(".")
        keep = len(parts) - level + (1 if self.is_package else 0)
        base = ".".join(parts[:max(keep, 0)])
        return f"{base}.{module}" if module and base else (module or base)

    # -- walking --------------------------------------------------------------------
    def visit(self, node):
        handler = self.dispatch.get(type(node))
        if handler is None:
            handler = self._handler(type(node))
        handler(node)

    def _handler(self, kind):
        handler = getattr(self, "v_" + kind.__name__, None)
        if handler is None:
            fields = tuple(f for f in getattr(kind, "_fields", ()) if f not in _SCALAR)
            _CHILD_FIELDS[kind] = fields
            handler = self.generic if fields and issubclass(kind, ast.AST) else _nothing
        self.dispatch[kind] = handler
        return handler

    def generic(self, node):
        dispatch = self.dispatch
        kind = node.__class__
        fields = _CHILD_FIELDS.get(kind)
        if fields is None:
            fields = _CHILD_FIELDS[kind] = tuple(f for f in kind._fields if f not in _SCALAR)
        for field in fields:
            value = getattr(node, field, None)
            if value.__class__ is list:
                for item in value:
                    if item is not None:
                        (dispatch.get(item.__class__) or self._handler(item.__class__))(item)
            elif value is not None:
                (dispatch.get(value.__class__) or self._handler(value.__class__))(value)

    def body(self, nodes):
        for node in nodes:
            self.visit(node)

    def v_Import(self, node):
        for alias in node.names:
            if alias.asname:
                self.imports[alias.asname] = alias.name
            else:
                head = alias.name.split(".")[0]
                self.imports[head] = head

    def v_ImportFrom(self, node):
        base = self.import_base(node.level, node.module)
        for alias in node.names:
            if alias.name != "*":
                self.imports[alias.asname or alias.name] = f"{base}.{alias.name}" if base \
                    else alias.name

    def v_ClassDef(self, node):
        for item in node.decorator_list + node.bases + node.keywords:
            self.visit(item)
        qual = ".".join(self.cls_stack + [node.name]) if self.fn.node is None else \
            f"{self.fn.qualname}.<locals>.{node.name}"
        if self.fn.node is None and not self.cls_stack:
            self.module_names.add(node.name)
        self.classes[qual] = {"line": node.lineno, "end_line": node.end_lineno,
                              "bases": [self.dotted(b) for b in node.bases
                                        if self.dotted(b)], "chan_attrs": {}}
        outer_fn, self.fn = self.fn, _Function(qual, None, None, [])
        saved, self.cls_stack = self.cls_stack, [qual]
        self.body(node.body)
        self.cls_stack, self.fn = saved, outer_fn
        outer_fn.locals.add(node.name)

    def v_FunctionDef(self, node):
        for item in node.decorator_list:
            self.visit(item)
        a = node.args
        params = [p.arg for p in a.posonlyargs + a.args]
        extra = [p.arg for p in a.kwonlyargs] + [p.arg for p in (a.vararg, a.kwarg) if p]
        for default in a.defaults + [d for d in a.kw_defaults if d is not None]:
            self.visit(default)
        cls = self.cls_stack[-1] if self.cls_stack and self.fn.node is None else None
        if cls:
            qual = f"{cls}.{node.name}"
            decos = {d.id for d in node.decorator_list if isinstance(d, ast.Name)}
            if "staticmethod" in decos or "classmethod" in decos:
                cls_params = params
                params, cls = params[1:] if "classmethod" in decos else params, cls
                fn = _Function(qual, node, cls, params)
                fn.self_name = None
                fn.locals |= set(cls_params)
            else:
                fn = _Function(qual, node, cls, params)
        elif self.fn.node is None:
            qual = node.name
            self.module_names.add(node.name)
            fn = _Function(qual, node, None, params)
        else:
            qual = f"{self.fn.qualname}.<locals>.{node.name}"
            fn = _Function(qual, node, None, params)
        fn.locals |= set(extra)
        self.functions[qual] = fn
        self.fn.locals.add(node.name)
        outer, depth = self.fn, self.loop_depth
        saved, self.cls_stack = self.cls_stack, []
        self.fn, self.loop_depth = fn, 0
        self.body(node.body)
        self.fn, self.loop_depth, self.cls_stack = outer, depth, saved

    v_AsyncFunctionDef = v_FunctionDef

    def v_Global(self, node):
        self.fn.global_decl.update(node.names)

    def v_Constant(self, node):
        pass

    # the most frequent nodes, without the generic walk's field lookups
    def v_Expr(self, node):
        self.visit(node.value)

    v_Return = v_Await = v_keyword = v_Starred = v_FormattedValue = v_Yield = v_Expr

    def v_BinOp(self, node):
        self.visit(node.left)
        self.visit(node.right)

    def v_Compare(self, node):
        self.visit(node.left)
        for item in node.comparators:
            self.visit(item)

    def v_Subscript(self, node):
        self.visit(node.value)
        self.visit(node.slice)

    def v_Tuple(self, node):
        for item in node.elts:
            self.visit(item)

    v_List = v_Set = v_Tuple

    def v_JoinedStr(self, node):
        for item in node.values:
            self.visit(item)

    def v_Lambda(self, node):
        self.visit(node.body)

    # complexity and loops
    def _branch(self, node):
        self.fn.complexity += 1
        self.generic(node)

    v_If = v_IfExp = v_match_case = _branch

    def _loop(self, node):
        self.fn.complexity += 1
        self.loop_depth += 1
        self.generic(node)
        self.loop_depth -= 1

    v_For = v_AsyncFor = v_While = _loop

    def _comp(self, node):
        self.fn.complexity += sum(1 + len(g.ifs) for g in node.generators)
        self.loop_depth += 1
        self.generic(node)
        self.loop_depth -= 1

    v_ListComp = v_SetComp = v_DictComp = v_GeneratorExp = _comp

    def v_BoolOp(self, node):
        self.fn.complexity += len(node.values) - 1
        self.generic(node)


def file_facts(tree: ast.Module, module: str, is_package: bool = False) -> dict:
    """The facts of one parsed module (see the module docstring)."""
    v = _Visitor(module, is_package)
    for node in tree.body:          # names defined later in the file resolve too
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            v.module_names.add(node.name)
    v.body(tree.body)
    module_globals = set(v.functions["<module>"].locals) - set(v.imports) - {
        q for q in v.classes if "." not in q} - {q for q in v.functions if "." not in q}
    functions = {q: f.done(module_globals) for q, f in v.functions.items()}
    functions["<module>"]["end_line"] = max((f["end_line"] for f in functions.values()),
                                            default=1)
    return {"module": module, "imports": v.imports, "classes": v.classes,
            "functions": functions}
