"""Arithmetic truth of check lines: every `Check:` / `Verify:` line must be true.

A check line holds relation chains separated by ', ', optionally ending in ' ok':
    Check: 28*347=8400+1120+196=9716!=9706
    Check: 7*5-12=23, 3*5+8=23 ok
Each side is an integer expression (+ - * / ^ and parentheses); every ' = ' must hold
exactly and every ' != ' must not. Evaluation is exact (Fractions) and bounded.
"""

import ast
import operator
import re
from fractions import Fraction

_CHECK_LINE_RE = re.compile(r"^(Check|Verify): (.*)$")
_REL_RE = re.compile(r"\s*(!=|=)\s*")
_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}
_MAX_EXPR_CHARS = 400


class CheckError(ValueError):
    pass


def evaluate(expr: str) -> Fraction:
    """Exact value of an integer expression with + - * / ^ and parentheses."""
    if len(expr) > _MAX_EXPR_CHARS or not re.fullmatch(r"[\d\s()+\-*/^]+", expr):
        raise CheckError(f"not an arithmetic expression: {expr!r}")
    try:
        tree = ast.parse(expr.replace("^", "**"), mode="eval")
    except SyntaxError as e:
        raise CheckError(f"cannot parse {expr!r}") from e
    return _eval(tree.body)


def _eval(node: ast.AST) -> Fraction:
    if isinstance(node, ast.Constant) and isinstance(node.value, int):
        return Fraction(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        v = _eval(node.operand)
        return -v if isinstance(node.op, ast.USub) else v
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
        base, exp = _eval(node.left), _eval(node.right)
        if exp.denominator != 1 or not 0 <= exp <= 12:
            raise CheckError("exponent out of range")
        return base ** int(exp)
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        left, right = _eval(node.left), _eval(node.right)
        if isinstance(node.op, ast.Div) and right == 0:
            raise CheckError("division by zero")
        return _OPS[type(node.op)](left, right)
    raise CheckError(f"unsupported syntax: {ast.dump(node)[:60]}")


def check_line_is_true(line: str) -> bool:
    """True iff every relation in a Check/Verify line holds; raises CheckError on malformed lines."""
    m = _CHECK_LINE_RE.match(line.strip())
    if not m:
        raise CheckError(f"not a check line: {line!r}")
    body = m.group(2).removesuffix(" ok")
    for chain in body.split(", "):
        parts = _REL_RE.split(chain)
        if len(parts) < 3:
            raise CheckError(f"no relation in {chain!r}")
        values = [evaluate(p) for p in parts[0::2]]
        for left, rel, right in zip(values, parts[1::2], values[1:]):
            if (left == right) != (rel == "="):
                return False
    return True


def check_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if _CHECK_LINE_RE.match(line.strip())]
