"""Procedurally generated math for the embedded default: exact integer answers.

Families (each with levels 1-4):
- arith:  one operation on multi-digit numbers            "Compute 347*28."
- mul:    multiplication only (arith's '*' operands)      "Compute 47*86."
- chain:  chained sums and products, explicit parentheses "Compute ((12+7)*3)-15."
- linear: one linear equation with an integer solution    "Solve for x: 7x-12=3x+8."
- root:   the integer root of a cubic (search: test divisors of the constant term)
- factor: the smallest prime factor of a number (search: trial division)
- pair:   which two of 4-7 two-digit numbers add up to a target (search: try the pairs in
          listed order; the tries, so the tokens spent, vary with the right pair's place)

Train and held-out items are disjoint by construction, whatever the seed: an item
belongs to the held-out partition iff a hash of its problem text says so, and each
split only accepts items from its own partition.
"""

import functools
import hashlib
import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from t1core.data.records import Problem

HELDOUT_SHARE = 0.1  # fixed share of the item space reserved for held-out items
_MAX_TRIES_PER_ITEM = 50


@dataclass(frozen=True)
class Item:
    problem: str
    answer: int
    meta: dict


def in_heldout_partition(problem: str) -> bool:
    digest = hashlib.sha256(b"t1-heldout|" + problem.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < HELDOUT_SHARE


def _n_digits(rng: random.Random, digits: int) -> int:
    return rng.randint(10 ** (digits - 1), 10**digits - 1)


_MUL_DIGITS = [(2, 1), (2, 2), (3, 2), (3, 3)]  # operand digits per level


def gen_arith(rng: random.Random, level: int) -> Item:
    op = rng.choice("+-*")
    if op == "*":
        da, db = _MUL_DIGITS[level - 1]
    else:
        da = db = level + 1
    a, b = _n_digits(rng, da), _n_digits(rng, db)
    value = {"+": a + b, "-": a - b, "*": a * b}[op]
    return Item(f"Compute {a}{op}{b}.", value, {"family": "arith", "a": a, "b": b, "op": op})


def gen_mul(rng: random.Random, level: int) -> Item:
    da, db = _MUL_DIGITS[level - 1]
    a, b = _n_digits(rng, da), _n_digits(rng, db)
    return Item(f"Compute {a}*{b}.", a * b, {"family": "mul", "a": a, "b": b, "op": "*"})


def gen_chain(rng: random.Random, level: int) -> Item:
    n_ops = level + 1
    expr = str(rng.randint(2, 12))
    value = int(expr)
    steps = []
    for i in range(n_ops):
        op = rng.choice("+-*")
        b = rng.randint(2, 9) if op == "*" else rng.randint(2, 20 * level)
        new = {"+": value + b, "-": value - b, "*": value * b}[op]
        expr = f"({expr}){op}{b}" if i else f"{expr}{op}{b}"
        steps.append([value, op, b, new])
        value = new
    return Item(f"Compute {expr}.", value, {"family": "chain", "steps": steps})


def gen_linear(rng: random.Random, level: int) -> Item:
    span = [6, 12, 20, 40][level - 1]
    x = rng.randint(-span, span)
    a = rng.choice([v for v in range(-span // 2 - 2, span // 2 + 3) if v not in (0, 1)])
    b = rng.randint(-span * 3, span * 3)
    c = rng.choice([v for v in range(-9, 10) if v != a]) if level >= 3 else 0
    rhs_const = a * x + b - c * x
    lhs = f"{_coef(a)}x{_signed(b)}"
    rhs = f"{_coef(c)}x{_signed(rhs_const)}" if c else str(rhs_const)
    return Item(f"Solve for x: {lhs}={rhs}.", x, {"family": "linear", "a": a, "b": b, "c": c, "d": rhs_const})


def gen_root(rng: random.Random, level: int) -> Item:
    span = [3, 5, 8, 12][level - 1]
    while True:
        r = rng.randint(-span, span)
        p, q = rng.randint(-2 - 2 * level, 2 + 2 * level), rng.randint(-3 - 3 * level, 3 + 3 * level)
        disc = p * p - 4 * q
        if q != 0 and (disc < 0 or math.isqrt(disc) ** 2 != disc):
            break  # x^2+px+q has no rational (so no integer) root: r is the only integer root
    coeffs = [1, p - r, q - r * p, -r * q]  # (x - r)(x^2 + p x + q)
    return Item(f"Find the integer x with {_poly(coeffs)}=0.", r, {"family": "root", "coeffs": coeffs})


_FACTOR_LEVELS = [  # (smallest-prime range, N range)
    ((3, 7), (50, 999)),
    ((3, 13), (100, 2_999)),
    ((7, 23), (1_000, 9_999)),
    ((13, 37), (1_000, 99_999)),
]


def gen_factor(rng: random.Random, level: int) -> Item:
    (p_lo, p_hi), (n_lo, n_hi) = _FACTOR_LEVELS[level - 1]
    p = rng.choice(_primes(p_lo, p_hi))
    while True:
        m = rng.randint(max(p, -(-n_lo // p)), n_hi // p)
        if smallest_prime_factor(m) >= p:  # p stays the smallest prime factor of p*m
            break
    return Item(f"Find the smallest prime factor of {p * m}.", p, {"family": "factor", "n": p * m})


_PAIR_SIZES = [4, 5, 6, 7]  # numbers listed per level: 6, 10, 15, 21 pairs to search


def gen_pair(rng: random.Random, level: int) -> Item:
    """Exactly one pair of the listed numbers adds up to the target; the answer is its smaller number."""
    while True:
        nums = rng.sample(range(10, 100), _PAIR_SIZES[level - 1])
        a, b = rng.sample(nums, 2)
        if len(pairs_adding_to(nums, a + b)) == 1:
            break
    listed = ", ".join(map(str, nums))
    return Item(f"Which two of {listed} add up to {a + b}? Give the smaller one.", min(a, b),
                {"family": "pair", "nums": nums, "target": a + b})


def all_pairs(nums: list[int]) -> list[tuple[int, int]]:
    """Every pair of `nums`, in listed order: (n0, n1), (n0, n2), ..., (n1, n2), ..."""
    return [(x, y) for i, x in enumerate(nums) for y in nums[i + 1:]]


def pairs_adding_to(nums: list[int], target: int) -> list[tuple[int, int]]:
    """The pairs (in listed order) of `nums` whose sum is `target`."""
    return [(x, y) for x, y in all_pairs(nums) if x + y == target]


@functools.lru_cache(maxsize=None)
def _primes(lo: int, hi: int) -> tuple[int, ...]:
    return tuple(n for n in range(max(lo, 2), hi + 1) if smallest_prime_factor(n) == n)


def smallest_prime_factor(n: int) -> int:
    for d in range(2, math.isqrt(n) + 1):
        if n % d == 0:
            return d
    return n


def _coef(a: int) -> str:
    return {1: "", -1: "-"}.get(a, str(a))


def _signed(b: int) -> str:
    return f"+{b}" if b > 0 else (str(b) if b < 0 else "")


def _poly(coeffs: list[int]) -> str:
    """[1, -2, -5, 6] -> 'x^3-2x^2-5x+6'."""
    deg = len(coeffs) - 1
    out = ""
    for i, c in enumerate(coeffs):
        power = deg - i
        if c == 0:
            continue
        var = "" if power == 0 else ("x" if power == 1 else f"x^{power}")
        mag = str(abs(c)) if (abs(c) != 1 or power == 0) else ""
        sign = "-" if c < 0 else ("+" if out else "")
        out += f"{sign}{mag}{var}"
    return out


GENERATORS: dict[str, Callable[[random.Random, int], Item]] = {
    "arith": gen_arith, "mul": gen_mul, "chain": gen_chain, "linear": gen_linear, "root": gen_root, "factor": gen_factor,
    "pair": gen_pair,
}


def generate(family: str, level: int, n: int, heldout: bool, seed: int, seen: set[str]) -> Iterator[Problem]:
    """Up to `n` new unique items of (family, level) from the train or held-out partition.

    `seen` is shared across calls so texts stay unique across families and levels.
    Stops early (fewer items) if the item space is exhausted; callers report the count.
    """
    tag = "heldout" if heldout else "train"
    rng = random.Random(f"{seed}|{family}|{level}|{tag}")
    made = tries = 0
    while made < n and tries < n * _MAX_TRIES_PER_ITEM:
        tries += 1
        item = GENERATORS[family](rng, level)
        if item.problem in seen or in_heldout_partition(item.problem) != heldout:
            continue
        seen.add(item.problem)
        made += 1
        digest = hashlib.sha256(item.problem.encode()).hexdigest()[:12]
        yield Problem(
            id=f"procedural:{family}:{digest}", source="procedural", problem=item.problem,
            answer=str(item.answer), subject=family, level=level, meta=item.meta,
        )
