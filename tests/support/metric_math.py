"""Evaluate CloudWatch metric-math expressions on numbers, so tests check what an alarm computes.

Covers what the stacks' expressions use: numbers, ``m0``-style ids, ``+ - * /``, comparisons,
``IF(condition, then, else)``, ``FILL(metric, value)`` and ``MAX([...])``. A metric with no
datapoint is ``None``; as in CloudWatch, arithmetic on a missing value gives no value, which
``FILL`` replaces (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/using-metric-math.html).
The expression is parsed with ``ast`` and walked; nothing is ``eval``-ed.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Mapping

Value = float | None

_ARITHMETIC: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}
_COMPARE: dict[type[ast.cmpop], Callable[[float, float], bool]] = {
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
}


def evaluate(expression: str, metrics: Mapping[str, Value]) -> Value:
    """The value of ``expression`` for one period, given each metric's value (None: missing)."""
    return _eval(ast.parse(expression, mode="eval").body, metrics)


def _eval(node: ast.expr, metrics: Mapping[str, Value]) -> Value:  # noqa: PLR0911 - one per form
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return float(node.value)
    if isinstance(node, ast.Name):
        return metrics[node.id]
    if isinstance(node, ast.BinOp):
        left, right = _eval(node.left, metrics), _eval(node.right, metrics)
        if left is None or right is None:
            return None
        if isinstance(node.op, ast.Div) and right == 0:
            return None  # CloudWatch drops a datapoint divided by zero
        return _ARITHMETIC[type(node.op)](left, right)
    if isinstance(node, ast.Compare) and len(node.ops) == 1:
        left, right = _eval(node.left, metrics), _eval(node.comparators[0], metrics)
        if left is None or right is None:
            return None
        return float(_COMPARE[type(node.ops[0])](left, right))
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        return _call(node.func.id, node.args, metrics)
    raise ValueError(f"unsupported metric math: {ast.dump(node)}")


def _call(name: str, args: list[ast.expr], metrics: Mapping[str, Value]) -> Value:
    if name == "IF":
        condition = _eval(args[0], metrics)
        if condition is None:
            return None
        return _eval(args[1] if condition else args[2], metrics)
    if name == "FILL":
        value = _eval(args[0], metrics)
        return _eval(args[1], metrics) if value is None else value
    if name == "MAX" and isinstance(args[0], ast.List):
        values = [v for v in (_eval(item, metrics) for item in args[0].elts) if v is not None]
        return max(values) if values else None
    raise ValueError(f"unsupported metric math function {name}")
