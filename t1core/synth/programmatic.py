"""Programmatic trial-and-error + self-verification traces for the procedural families.

Trace shape (DESIGN.md §2):

    attempt -> Check -> ("Wait, ..." -> new attempt -> Check)* -> \\boxed{answer} -> Verify

With probability `slip_rate` the first attempt carries a realistic slip (a dropped
carry, a wrong partial product, a sign error, a mis-evaluated candidate). A real
check exposes it (`Check: ... != ...`, arithmetically true), a reflection names the
mistake, and a corrected attempt follows. Clean traces have one attempt whose check
passes. Every builder returns a list of text segments; `render` joins them.
"""

import random
from collections.abc import Callable
from dataclasses import dataclass

from t1core.data.procedural import all_pairs, pairs_adding_to, smallest_prime_factor
from t1core.data.records import Problem


@dataclass(frozen=True)
class Built:
    response: str
    n_attempts: int
    has_slip: bool


def _p(v: int) -> str:
    """A value inside an expression: negatives in parentheses."""
    return f"({v})" if v < 0 else str(v)


def _signed(v: int) -> str:
    return f"+{v}" if v >= 0 else str(v)


def _finish(lines: list[str], answer: int, verify: str, n_attempts: int, slipped: bool) -> Built:
    lines += [f"So the answer is \\boxed{{{answer}}}.", f"Verify: {verify} ok"]
    text = "\n".join(lines).replace(" != ", "!=").replace(" = ", "=")  # compact: fewer tokens per relation
    return Built(text, n_attempts, slipped)


# ---------------------------------------------------------------- column arithmetic
def _digits(n: int) -> list[int]:
    """Least-significant digit first."""
    return [int(c) for c in reversed(str(n))]


def column_add(a: int, b: int, drop_carry: int | None = None) -> tuple[str, int]:
    """'7+5=12, 4+8+1=13, 3+2+1=6' for 347+285 -> 632; drop_carry forgets the carry into that column."""
    da, db = _digits(a), _digits(b)
    steps, out, carry = [], [], 0
    for i in range(max(len(da), len(db))):
        x, y = (da[i] if i < len(da) else 0), (db[i] if i < len(db) else 0)
        if i == drop_carry:
            carry = 0
        total = x + y + carry
        steps.append(f"{x}+{y}" + (f"+{carry}" if carry else "") + f"={total}")
        out.append(total % 10)
        carry = total // 10
    value = int(str(carry or "") + "".join(map(str, reversed(out))))
    return ", ".join(steps), value


def column_sub(a: int, b: int, skip_borrow: int | None = None) -> tuple[str, int]:
    """'17-9=8, 13-8=5, 2-2=0' for 347-289 (a >= b) -> 58; skip_borrow forgets the borrow from that column."""
    da, db = _digits(a), _digits(b)
    steps, out, borrow = [], [], 0
    for i in range(len(da)):
        x, y = da[i] - borrow, (db[i] if i < len(db) else 0)
        if i == skip_borrow:
            x += borrow
        borrow = int(x < y)
        steps.append(f"{x + 10 * borrow}-{y}={x + 10 * borrow - y}")
        out.append(x + 10 * borrow - y)
    value = int("".join(map(str, reversed(out))))
    return ", ".join(steps), value


def column_mul_digit(a: int, d: int, drop_carry: int | None = None) -> tuple[str, int]:
    """'7*8=56, 4*8+5=37, 3*8+3=27' for 347*8 -> 2776; drop_carry forgets the carry into that column."""
    steps, out, carry = [], [], 0
    for i, x in enumerate(_digits(a)):
        if i == drop_carry:
            carry = 0
        total = x * d + carry
        steps.append(f"{x}*{d}" + (f"+{carry}" if carry else "") + f"={total}")
        out.append(total % 10)
        carry = total // 10
    return ", ".join(steps), int(str(carry or "") + "".join(map(str, reversed(out))))


# ---------------------------------------------------------------- arith
def _add_or_sub(a: int, b: int, op: str, slip_col: int | None) -> tuple[str, int]:
    """Column work for a+b or a-b (negative results as -(b-a))."""
    if op == "+":
        work, value = column_add(a, b, slip_col)
        return f"{a}+{b}: {work}, so {value}.", value
    big, small, sign = (a, b, "") if a >= b else (b, a, "-")
    work, value = column_sub(big, small, slip_col)
    lead = "" if a >= b else f"{a}<{b}, so {a}-{b}=-({b}-{a}). "
    return f"{lead}{big}-{small}: {work}, so {sign}{value}.", int(f"{sign}{value}")


def _mul(a: int, b: int, slip_col: int | None) -> tuple[str, int]:
    """Partial products digit by digit (shifted by place), then their column sum.

    slip_col drops a carry inside the first partial product: a wrong partial product.
    """
    parts, partials = [], []
    for i, d in enumerate(_digits(b)):
        if d == 0:
            continue
        work, prod = column_mul_digit(a, d, slip_col if not partials else None)
        shifted = prod * 10**i
        parts.append(f"{a}*{d}: {work}, so {prod}" + (f", shifted {shifted}" if i else ""))
        partials.append(shifted)
    total = partials[0]
    for prod in partials[1:]:
        work, value = column_add(total, prod)
        parts.append(f"{total}+{prod}: {work}, so {value}")
        total = value
    return "; ".join(parts) + ".", total


def _arith_check(a: int, b: int, op: str, claimed: int) -> tuple[str, bool]:
    """The inverse operation (multiplication: b*a the other way round), one relation."""
    if op == "*":
        return (f"Check: {b}*{a}={a * b} ok", True) if claimed == a * b else (f"Check: {b}*{a}={a * b}!={claimed}", False)
    inv = "-" if op == "+" else "+"
    got = claimed - b if op == "+" else claimed + b
    return (f"Check: {_p(claimed)}{inv}{b}={got} ok" if got == a else f"Check: {_p(claimed)}{inv}{b}={got}!={a}"), got == a


_ARITH_FIX = {"*": "a partial product is wrong", "+": "I dropped a carry", "-": "I forgot a borrow"}


def build_arith(p: Problem, rng: random.Random, slip: bool) -> Built:
    a, b, op = p.meta["a"], p.meta["b"], p.meta["op"]
    true = {"+": a + b, "-": a - b, "*": a * b}[op]
    lines: list[str] = []
    attempts = 0
    for slip_col in ([rng.randrange(1, 3), None] if slip else [None]):
        work, claimed = _mul(a, b, slip_col) if op == "*" else _add_or_sub(a, b, op, slip_col)
        if slip_col is not None and claimed == true:
            continue  # this column had no carry to drop: the first attempt is simply right
        check, ok = _arith_check(a, b, op, claimed)
        lines += [work, check]
        attempts += 1
        if not ok:
            lines.append(f"Wait, the check fails: {_ARITH_FIX[op]}. Let me redo it.")
    return _finish(lines, true, f"{a}{op}{b}={true}", attempts, attempts > 1)


# ---------------------------------------------------------------- chain
def _chain_forward(start: int, steps: list[list], bad: int | None) -> tuple[list[str], list[int]]:
    value, parts, values = start, [], [start]
    for i, (_, op, b, _new) in enumerate(steps):
        new = {"+": value + b, "-": value - b, "*": value * b}[op]
        if i == bad:
            new += b if op == "*" else (10 if new % 2 else -10)
        parts.append(f"{_p(value)}{op}{b} = {new}")
        values.append(new)
        value = new
    return parts, values


def _chain_backward(steps: list[list], values: list[int]) -> tuple[str, bool]:
    """Undo the steps from the claimed result; stop at the first inconsistency."""
    parts = []
    for i in range(len(steps) - 1, -1, -1):
        _, op, b, _ = steps[i]
        inv = {"+": "-", "-": "+", "*": "/"}[op]
        back = {"+": values[i + 1] - b, "-": values[i + 1] + b, "*": values[i + 1] // b}[op]
        if back != values[i]:
            parts.append(f"{_p(values[i + 1])}{inv}{b} = {back} != {values[i]}")
            return ", ".join(parts), False
        parts.append(f"{_p(values[i + 1])}{inv}{b} = {back}")
    return ", ".join(parts), True


def build_chain(p: Problem, rng: random.Random, slip: bool) -> Built:
    steps = p.meta["steps"]
    start = steps[0][0]
    bad = rng.randrange(len(steps)) if slip else None
    lines, n = [], 0
    for attempt_bad in ([bad, None] if slip else [None]):
        parts, values = _chain_forward(start, steps, attempt_bad)
        back, ok = _chain_backward(steps, values)
        lines += [", ".join(parts) + ".", f"Check: {back}" + (" ok" if ok else "")]
        n += 1
        if not ok:
            _, op, b, right = steps[attempt_bad]
            lines.append(f"Wait, {_p(steps[attempt_bad][0])}{op}{b} is not {values[attempt_bad + 1]}. Let me redo it.")
    expr = p.problem.removeprefix("Compute ").removesuffix(".")
    return _finish(lines, steps[-1][3], f"{expr} = {steps[-1][3]}", n, slip)


# ---------------------------------------------------------------- linear
def _linear_sides(a: int, b: int, c: int, d: int, x: int) -> tuple[str, str, int, int]:
    left = f"{a}*{_p(x)}{_signed(b)}"
    right = f"{c}*{_p(x)}{_signed(d)}" if c else str(d)
    return left, right, a * x + b, c * x + d


def build_linear(p: Problem, rng: random.Random, slip: bool) -> Built:
    a, b, c, d = (p.meta[k] for k in "abcd")
    x = (d - b) // (a - c)
    slip = slip and x != 0
    lines = []
    for guess in ([-x, x] if slip else [x]):
        moved = f"{a}x-{_p(c)}x = {d}-{_p(b)}, so {a - c}x = {d - b}" if c else f"{a}x = {d}-{_p(b)} = {d - b}"
        solved = f"x = {_p(d - b)}/{_p(a - c)} = {guess}" if guess == x else f"x = {guess}"
        lines.append(f"{moved}, so {solved}.")
        left, right, lv, rv = _linear_sides(a, b, c, d, guess)
        if lv != rv:
            shown = f"{left} = {lv}, {right} = {rv}, {lv} != {rv}" if c else f"{left} = {lv} != {rv}"
            lines += [f"Check: {shown}", "Wait, the two sides differ: I lost a sign when dividing. Let me redo it."]
        else:
            lines.append(f"Check: {left} = {lv}, {right} = {rv} ok" if c else f"Check: {left} = {rv} ok")
    left, right, _, _ = _linear_sides(a, b, c, d, x)
    return _finish(lines, x, f"{left} = {right}", 1 + slip, slip)


# ---------------------------------------------------------------- root
def poly_at(coeffs: list[int], k: int) -> str:
    """'(-2)^3-2*(-2)^2-5*(-2)+6' for [1, -2, -5, 6] at -2."""
    deg, out = len(coeffs) - 1, ""
    for i, c in enumerate(coeffs):
        power = deg - i
        if c == 0:
            continue
        var = "" if power == 0 else (_p(k) if power == 1 else f"{_p(k)}^{power}")
        mag = str(abs(c)) if power == 0 else (f"{abs(c)}*" if abs(c) != 1 else "")
        sign = "-" if c < 0 else ("+" if out else "")
        out += f"{sign}{mag}{var}"
    return out


def _poly_terms(coeffs: list[int], k: int, wrong: bool) -> str:
    """The terms at k, then their sum two terms at a time ('-8-4+20+6 = -12+20+6 = 8+6 = 14')."""
    deg = len(coeffs) - 1
    terms = [c * k ** (deg - i) for i, c in enumerate(coeffs)]
    if wrong:  # mis-evaluate the constant term so the sum looks like 0
        terms[-1] -= sum(terms)
    terms = [t for t in terms if t] or [0]
    shown = [_terms(terms)]
    while len(terms) > 1:
        terms = [terms[0] + terms[1], *terms[2:]]
        shown.append(_terms(terms))
    return " = ".join(shown)


def _terms(terms: list[int]) -> str:
    return str(terms[0]) + "".join(_signed(t) for t in terms[1:])


def root_candidates(coeffs: list[int]) -> list[int]:
    const = coeffs[-1]
    if const == 0:
        return [0]
    divs = [d for d in range(1, abs(const) + 1) if const % d == 0]
    return [s * d for d in divs for s in (1, -1)]


def build_root(p: Problem, rng: random.Random, slip: bool) -> Built:
    coeffs, r = p.meta["coeffs"], int(p.answer)
    cands = root_candidates(coeffs)
    cands = cands[: cands.index(r) + 1]
    fake = rng.choice(cands[:-1]) if slip and len(cands) > 1 else None
    lines = [f"Integer roots divide {coeffs[-1]}. Try the divisors."]
    for k in cands:
        lines.append(f"x={k}: {_poly_terms(coeffs, k, k == fake)}")
        if k == fake:
            true_v = sum(c * k ** (len(coeffs) - 1 - i) for i, c in enumerate(coeffs))
            lines += [f"Check: {poly_at(coeffs, k)} = {true_v} != 0",
                      f"Wait, x={k} is not a root: I mis-added. Continue with the other divisors."]
    lines.append(f"Check: {poly_at(coeffs, r)} = 0 ok")
    return _finish(lines, r, f"{poly_at(coeffs, r)} = 0", 1 + (fake is not None), fake is not None)


# ---------------------------------------------------------------- factor
def long_division(n: int, q: int) -> tuple[str, int, int]:
    """'24=3*8, 8=3*2+2, 23=3*7+2' for 2483 / 3 -> (work, 827, 2): one quotient digit per step, left to right."""
    steps, quo, rem = [], 0, 0
    for ch in str(n):
        cur = rem * 10 + int(ch)
        digit, rem = divmod(cur, q)
        quo = quo * 10 + digit
        if quo:  # leading prefixes smaller than q are carried, not written
            steps.append(f"{cur}={q}*{digit}" + (f"+{rem}" if rem else ""))
    return ", ".join(steps), quo, rem


def build_factor(p: Problem, rng: random.Random, slip: bool) -> Built:
    n = p.meta["n"]
    spf = smallest_prime_factor(n)
    primes = [q for q in range(3, spf + 1) if smallest_prime_factor(q) == q]
    fake = rng.choice(primes[:-1]) if slip and len(primes) > 1 else None
    lines = [f"{n} is odd, so try odd primes."]
    for q in primes:
        work, quo, rem = long_division(n, q)
        if q == fake:  # the slip: the last remainder is dropped
            work = work.rsplit("+", 1)[0]
            lines += [f"{q}: {work}, so {n}={q}*{quo}", f"Check: {q}*{quo} = {q * quo} != {n}",
                      f"Wait, {q} does not divide {n}: the remainder is {rem}. Continue."]
        elif rem:
            lines.append(f"{q}: {work}, so {n}={q}*{quo}+{rem}")
        else:
            lines += [f"{q}: {work}, so {n}={q}*{quo}", f"Check: {q}*{quo} = {n} ok"]
    return _finish(lines, spf, f"{spf}*{n // spf} = {n}", 1 + (fake is not None), fake is not None)


# ---------------------------------------------------------------- pair
def build_pair(p: Problem, rng: random.Random, slip: bool) -> Built:
    """The pairs in listed order until one adds up to the target; its 'yes' is checked against the target.

    Three slips, each caught by a true check: a wrong pair judged to match ('123 yes' for 103) or mis-added
    to the target ('103 yes'), its check re-adding it against the target; or the right pair mis-added and
    passed over, so the whole list fails and every pair tried is checked again until one passes."""
    nums, target = p.meta["nums"], p.meta["target"]
    (a, b), = pairs_adding_to(nums, target)
    pairs = all_pairs(nums)
    tried = pairs[: pairs.index((a, b)) + 1]
    kinds = ["misjudged", "mis_added", "missed"] if len(tried) > 1 else ["missed"]
    kind = rng.choice(kinds) if slip else None
    lines = [f"Try the pairs in order until one adds up to {target}."]
    if kind == "missed":
        wrong = a + b + rng.choice([-10, -1, 1, 10])  # a dropped or doubled carry, a units slip
        lines += [f"{x}+{y} = {wrong if (x, y) == (a, b) else x + y} no" for x, y in pairs]
        lines.append(f"Wait, no pair adds up to {target}, so I mis-added one. Check them again.")
        lines += [f"Check: {y}+{x} = {x + y} != {target}" for x, y in tried[:-1]]
    else:
        fake = None
        if kind == "misjudged":  # the near miss
            fake = min(tried[:-1], key=lambda xy: abs(sum(xy) - target))
        elif kind == "mis_added":  # any wrong pair
            fake = rng.choice(tried[:-1])
        for x, y in tried:
            if (x, y) == fake:
                claimed = x + y if kind == "misjudged" else target
                lines += [f"{x}+{y} = {claimed} yes", f"Check: {y}+{x} = {x + y} != {target}",
                          f"Wait, {x}+{y} does not add up to {target}. Continue with the other pairs."]
            else:
                lines.append(f"{x}+{y} = {x + y} " + ("yes" if x + y == target else "no"))
    lines.append(f"Check: {b}+{a} = {target} ok")
    return _finish(lines, min(a, b), f"{a}+{b} = {target}", 1 + slip, slip)


BUILDERS: dict[str, Callable[[Problem, random.Random, bool], Built]] = {
    "arith": build_arith, "mul": build_arith, "chain": build_chain, "linear": build_linear, "root": build_root,
    "factor": build_factor, "pair": build_pair,
}
