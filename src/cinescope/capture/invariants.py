"""Invariants a plan declares over a class's recorded state, checked without eval().

    [invariants]
    "bank.accounts:Account" = ["balance >= 0", "len(history) <= 100"]

An expression is parsed with `ast` and only these are accepted: names (the
object's recorded attributes), constants (numbers, strings, True, False,
None), tuples and lists of those, comparisons (==, !=, <, <=, >, >=, in,
not in, `is None`, `is not None`), arithmetic on numbers (+, -, *, /, //, %,
unary - and +), `and`, `or`, `not`, and calls of len, abs, min and max.

It is evaluated over the values *as recorded* (docs/json.md, Values), with a
three-valued answer: True, False, or UNKNOWN when the recording does not say
(a name not recorded, a redacted value, an object recorded by reference, a
string or container the recording cut, an operation on mismatched types).
`and`/`or` follow Kleene's logic: `False and UNKNOWN` is False. Only a False
answer breaks an invariant.

This module imports nothing of Cinescope: the plan (capture/plan.py) checks
expressions with it before anything runs, and the analyzer evaluates them.
"""
from __future__ import annotations

import ast
import math
import operator

__all__ = ["UNKNOWN", "Invariant", "InvariantError", "compile_invariant"]


class _Unknown:
    __slots__ = ()

    def __repr__(self) -> str:
        return "UNKNOWN"

    def __bool__(self) -> bool:
        raise TypeError("UNKNOWN has no truth value")


UNKNOWN = _Unknown()
MAX_STR = 10_000            # longer results of + are unknown (bounded work)


class InvariantError(ValueError):
    """An expression the restricted evaluator does not accept; says why."""


_COMPARE = {ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt,
            ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge}
_ARITH = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
          ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod}
_FUNCTIONS = {"len", "abs", "min", "max"}
_WHAT = ("use names of the object's attributes, numbers, strings, comparisons, "
         "+ - * / // %, and/or/not, len/abs/min/max")


class Invariant:
    """One compiled expression: `evaluate(state)` -> True, False or UNKNOWN."""

    def __init__(self, text: str, tree: ast.expr):
        self.text = text
        self.tree = tree
        self.names = sorted({n.id for n in ast.walk(tree) if isinstance(n, ast.Name)
                             and n.id not in _FUNCTIONS})

    def __repr__(self) -> str:
        return f"Invariant({self.text!r})"

    def evaluate(self, state: dict) -> object:
        try:
            return _truth(_eval(self.tree, state))
        except (TypeError, ValueError, ArithmeticError, OverflowError, RecursionError):
            return UNKNOWN


def compile_invariant(text: str) -> Invariant:
    """Parse and check an expression; InvariantError says what is wrong."""
    if not isinstance(text, str) or not text.strip():
        raise InvariantError("an invariant must be a non-empty expression string")
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except SyntaxError as exc:
        raise InvariantError(f"it is not a Python expression ({exc.msg})") from None
    for node in ast.walk(tree):
        _check(node)
    return Invariant(text.strip(), tree)


def _check(node: ast.AST) -> None:
    if isinstance(node, (ast.BoolOp, ast.And, ast.Or, ast.Not, ast.USub, ast.UAdd,
                         ast.Load, ast.Tuple, ast.List)):
        return
    if isinstance(node, ast.Constant):
        if not isinstance(node.value, (int, float, str, bool, type(None))):
            raise InvariantError(f"the constant {node.value!r} is not a number, string, "
                                 "True, False or None")
        return
    if isinstance(node, ast.Name):
        if node.id.startswith("__"):
            raise InvariantError(f"the name {node.id!r} is not an attribute name")
        return
    if isinstance(node, ast.UnaryOp):
        return      # its op is checked as a node of its own
    if isinstance(node, ast.BinOp):
        if type(node.op) not in _ARITH:
            raise InvariantError(f"the operator {type(node.op).__name__} is not allowed; "
                                 + _WHAT)
        return
    if isinstance(node, tuple(_ARITH)):
        return
    if isinstance(node, ast.Compare):
        for op, right in zip(node.ops, node.comparators):
            if isinstance(op, (ast.Is, ast.IsNot)) and not (
                    isinstance(right, ast.Constant) and right.value is None):
                raise InvariantError("`is` and `is not` compare only with None")
        return
    if isinstance(node, (ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.In,
                         ast.NotIn, ast.Is, ast.IsNot)):
        return
    if isinstance(node, ast.Call):
        if not (isinstance(node.func, ast.Name) and node.func.id in _FUNCTIONS):
            raise InvariantError("only len, abs, min and max can be called")
        if node.keywords or any(isinstance(a, ast.Starred) for a in node.args) \
                or not node.args:
            raise InvariantError(f"{node.func.id}() takes plain arguments only")
        return
    if isinstance(node, ast.Attribute):
        raise InvariantError(f"attribute access (.{node.attr}) is not supported: name the "
                             "object's own attributes (a separate class can have its own "
                             "invariants)")
    if isinstance(node, ast.Subscript):
        raise InvariantError("subscripts ([...]) are not supported")
    raise InvariantError(f"{type(node).__name__} is not allowed; " + _WHAT)


# -- values as recorded -----------------------------------------------------------------
def _plain(value: object) -> object:
    """A recorded value as the Python value it stands for, or UNKNOWN."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, list):             # already plain (a tuple or list literal)
        return value
    if not isinstance(value, dict):
        return UNKNOWN
    kind = value.get("type")
    if kind == "int" and isinstance(value.get("repr"), str) and "digits" not in value:
        try:
            return int(value["repr"])
        except ValueError:
            return UNKNOWN
    if kind in ("list", "tuple", "set", "frozenset") and "len" not in value \
            and isinstance(value.get("items"), list):
        items = [_plain(i) for i in value["items"]]
        if any(i is UNKNOWN for i in items):
            return UNKNOWN
        if kind in ("set", "frozenset"):
            try:
                return set(items) if kind == "set" else frozenset(items)
            except TypeError:
                return UNKNOWN
        return tuple(items) if kind == "tuple" else items
    if kind == "dict" and "len" not in value and isinstance(value.get("items"), list):
        out = {}
        for pair in value["items"]:
            if not isinstance(pair, list) or len(pair) != 2:
                return UNKNOWN
            k, v = _plain(pair[0]), _plain(pair[1])
            if k is UNKNOWN or v is UNKNOWN or isinstance(k, (list, dict, set)):
                return UNKNOWN
            out[k] = v
        return out
    return UNKNOWN


def _length(value: object) -> object:
    """len() of a recorded value: a cut string or container still knows its length."""
    if isinstance(value, dict) and "type" in value:
        if isinstance(value.get("len"), int) and "items" in value or \
                value.get("type") == "str" and isinstance(value.get("len"), int):
            return value["len"]
        if value.get("type") in ("list", "tuple", "set", "frozenset", "dict") and \
                isinstance(value.get("items"), list) and "cycle" not in value:
            return value.get("len", len(value["items"]))
        if isinstance(value.get("len"), int) and set(value) == {"type", "len"}:
            return value["len"]             # a container past max_depth
        return UNKNOWN
    plain = _plain(value)
    if plain is UNKNOWN or not isinstance(plain, (str, list, tuple, dict, set, frozenset)):
        return UNKNOWN
    return len(plain)


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not (isinstance(value, float)
                                                    and math.isnan(value))


def _truth(value: object) -> object:
    if value is UNKNOWN:
        return UNKNOWN
    if isinstance(value, (bool, int, float, str, list, tuple, dict, set, frozenset,
                          type(None))):
        return bool(value)
    return UNKNOWN


def _eval(node: ast.expr, state: dict) -> object:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        if node.id not in state:
            return UNKNOWN
        return _plain(state[node.id])
    if isinstance(node, (ast.Tuple, ast.List)):
        items = [_eval(e, state) for e in node.elts]
        return UNKNOWN if any(i is UNKNOWN for i in items) else items
    if isinstance(node, ast.BoolOp):
        is_and = isinstance(node.op, ast.And)
        unknown = False
        for value in node.values:
            truth = _truth(_eval(value, state))
            if truth is UNKNOWN:
                unknown = True
            elif truth is not is_and:       # False in an `and`, True in an `or`
                return truth
        return UNKNOWN if unknown else is_and
    if isinstance(node, ast.UnaryOp):
        operand = _eval(node.operand, state)
        if isinstance(node.op, ast.Not):
            truth = _truth(operand)
            return UNKNOWN if truth is UNKNOWN else not truth
        if not _number(operand):
            return UNKNOWN
        return -operand if isinstance(node.op, ast.USub) else +operand
    if isinstance(node, ast.BinOp):
        left, right = _eval(node.left, state), _eval(node.right, state)
        if _number(left) and _number(right):
            if isinstance(node.op, ast.Mult) and max(abs(left), abs(right)) > 2 ** 64:
                return UNKNOWN
            return _ARITH[type(node.op)](left, right)
        if isinstance(node.op, ast.Add) and isinstance(left, str) and isinstance(right, str) \
                and len(left) + len(right) <= MAX_STR:
            return left + right
        return UNKNOWN
    if isinstance(node, ast.Compare):
        left = _eval(node.left, state)
        result: object = True
        for op, right_node in zip(node.ops, node.comparators):
            right = _eval(right_node, state)
            if isinstance(op, (ast.Is, ast.IsNot)):
                if left is UNKNOWN:
                    return UNKNOWN
                ok = (left is None) == isinstance(op, ast.Is)
            elif left is UNKNOWN or right is UNKNOWN:
                result = UNKNOWN
                left = right
                continue
            elif isinstance(op, (ast.In, ast.NotIn)):
                if not isinstance(right, (str, list, tuple, dict, set, frozenset)) or (
                        isinstance(right, str) and not isinstance(left, str)):
                    return UNKNOWN
                ok = (left in right) == isinstance(op, ast.In)
            else:
                ok = _COMPARE[type(op)](left, right)
                if not isinstance(ok, bool):
                    return UNKNOWN
            if not ok:
                return False                 # a known False decides the chain
            left = right
        return result
    if isinstance(node, ast.Call):
        name = node.func.id
        if name == "len":
            if len(node.args) != 1:
                return UNKNOWN
            arg = node.args[0]
            return _length(state.get(arg.id, UNKNOWN) if isinstance(arg, ast.Name)
                           else _eval(arg, state))
        args = [_eval(a, state) for a in node.args]
        if any(a is UNKNOWN for a in args):
            return UNKNOWN
        if name == "abs":
            return abs(args[0]) if len(args) == 1 and _number(args[0]) else UNKNOWN
        if len(args) == 1:
            args = list(args[0]) if isinstance(args[0], (list, tuple, set, frozenset)) \
                else [UNKNOWN]
        if not args or not all(_number(a) for a in args):
            return UNKNOWN
        return (min if name == "min" else max)(args)
    return UNKNOWN
