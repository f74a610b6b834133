"""The state and exceptions part of a module's facts (analyzer/facts.py):
what each function changes (`self.X`, module globals), reads, raises and
catches.

A mixin of facts._Visitor: it uses the visitor's `fn` (the function being
read), `dotted`, `visit`, `generic`, `cls_stack` and `module_names`.
"""
from __future__ import annotations

import ast

_BROAD = {"Exception", "BaseException", "builtins.Exception", "builtins.BaseException"}


class ChangeFacts:
    # exceptions
    def v_Raise(self, node):
        exc = node.exc
        if exc is not None:
            target = exc.func if isinstance(exc, ast.Call) else exc
            name = self.dotted(target)
            if name and name[0].isupper() or (name and "." in name):
                self.fn.raises.append([name, node.lineno])
        self.generic(node)

    def v_Try(self, node):
        for handler in node.handlers:
            self.fn.complexity += 1
            caught = handler.type
            names = [self.dotted(e) or "?" for e in caught.elts] if isinstance(
                caught, ast.Tuple) else ([self.dotted(caught) or "?"] if caught else [])
            reraises = any(isinstance(n, ast.Raise) for s in handler.body for n in ast.walk(s))
            broad = not names or any(n in _BROAD for n in names)
            self.fn.handlers.append([names, not reraises, broad, handler.lineno])
        self.generic(node)

    v_TryStar = v_Try

    # state
    def _store(self, target, line):
        fn = self.fn
        if isinstance(target, ast.Name):
            fn.locals.add(target.id)
            if fn.node is None and not self.cls_stack:
                self.module_names.add(target.id)
            elif target.id in fn.global_decl:
                fn.gwrites.add(target.id)
        elif isinstance(target, ast.Attribute):
            base = target.value
            if isinstance(base, ast.Name) and base.id == fn.self_name and fn.self_name:
                fn.writes.setdefault(target.attr, line)
        elif isinstance(target, ast.Subscript):
            self._mutated(target.value, line)
        elif isinstance(target, (ast.Tuple, ast.List)):
            for elt in target.elts:
                self._store(elt, line)
        elif isinstance(target, ast.Starred):
            self._store(target.value, line)

    def _mutated(self, obj, line):
        fn = self.fn
        if isinstance(obj, ast.Attribute) and isinstance(obj.value, ast.Name) \
                and obj.value.id == fn.self_name and fn.self_name:
            fn.writes.setdefault(obj.attr, line)
        elif isinstance(obj, ast.Name) and fn.node is not None:
            fn.gwrites.add(obj.id)

    def v_Assign(self, node):
        value = node.value
        if len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Tuple) and isinstance(value, ast.Tuple) and \
                    len(target.elts) == len(value.elts):
                for t, v in zip(target.elts, value.elts):
                    self._channel_bind(t, v)
            else:
                self._channel_bind(target, value)
        for target in node.targets:
            self._store(target, node.lineno)
            self.visit(target)
        self.visit(value)

    def v_AugAssign(self, node):
        self._store(node.target, node.lineno)
        if isinstance(node.target, ast.Name) and node.target.id in self.fn.global_decl:
            self.fn.gwrites.add(node.target.id)
        self.generic(node)

    def v_AnnAssign(self, node):
        if node.value is not None:
            self._channel_bind(node.target, node.value)
            self._store(node.target, node.lineno)
        self.generic(node)

    def v_Delete(self, node):
        for target in node.targets:
            self._store(target, node.lineno)
        self.generic(node)

    def v_NamedExpr(self, node):
        self._store(node.target, node.lineno)
        self.visit(node.value)

    def v_Attribute(self, node):
        base = node.value
        if isinstance(base, ast.Name) and base.id == self.fn.self_name and self.fn.self_name:
            self.fn.reads.add(node.attr)
        else:
            self.visit(base)

    def v_Name(self, node):
        self.fn.loads.add(node.id)
