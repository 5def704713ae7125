"""The embedded task generator: exact answers, seeded, unique, train/held-out disjoint."""

import re

import pytest

from t1core.data.procedural import GENERATORS, generate, in_heldout_partition, smallest_prime_factor


def _poly_value(coeffs, x):
    v = 0
    for c in coeffs:
        v = v * x + c
    return v


def _check(p) -> None:
    m, ans = p.meta, int(p.answer)
    fam = m["family"]
    if fam in ("arith", "mul"):
        assert fam == "arith" or m["op"] == "*"
        assert ans == {"+": m["a"] + m["b"], "-": m["a"] - m["b"], "*": m["a"] * m["b"]}[m["op"]]
        assert p.problem == f"Compute {m['a']}{m['op']}{m['b']}."
    elif fam == "chain":
        expr = re.match(r"Compute (.*)\.$", p.problem).group(1)
        assert re.fullmatch(r"[\d()+\-*]+", expr)
        assert eval(expr) == ans  # noqa: S307  (digits and operators only, checked above)
    elif fam == "linear":
        assert m["a"] * ans + m["b"] == m["c"] * ans + m["d"]
    elif fam == "root":
        assert _poly_value(m["coeffs"], ans) == 0
        others = [x for x in range(-200, 201) if x != ans and _poly_value(m["coeffs"], x) == 0]
        assert not others, "the integer root must be unique"
    elif fam == "factor":
        assert smallest_prime_factor(m["n"]) == ans and ans > 2 and m["n"] != ans
    elif fam == "pair":
        nums, target = m["nums"], m["target"]
        sums = [(x, y) for i, x in enumerate(nums) for y in nums[i + 1:] if x + y == target]
        assert len(sums) == 1 and ans == min(sums[0]), "exactly one pair adds up to the target"
        assert len(set(nums)) == len(nums) == 3 + p.level and all(10 <= x <= 99 for x in nums)
        assert p.problem == f"Which two of {', '.join(map(str, nums))} add up to {target}? Give the smaller one."
    else:
        raise AssertionError(fam)


@pytest.mark.parametrize("family", sorted(GENERATORS))
@pytest.mark.parametrize("level", [1, 2, 3, 4])
def test_answers_are_exact(family, level):
    items = list(generate(family, level, 40, False, seed=7, seen=set()))
    assert len(items) == 40
    for p in items:
        _check(p)
        assert p.subject == family and p.level == level


def test_seeded_and_deterministic():
    a = [p.problem for p in generate("chain", 2, 30, False, seed=1, seen=set())]
    b = [p.problem for p in generate("chain", 2, 30, False, seed=1, seen=set())]
    c = [p.problem for p in generate("chain", 2, 30, False, seed=2, seen=set())]
    assert a == b and a != c


def test_unique_within_a_shared_seen_set():
    seen: set[str] = set()
    texts = [p.problem for lv in (1, 2) for p in generate("linear", lv, 200, False, seed=3, seen=seen)]
    assert len(texts) == len(set(texts)) == 400


@pytest.mark.parametrize("family", sorted(GENERATORS))
def test_train_and_heldout_never_overlap_whatever_the_seeds(family):
    train = {p.problem for s in (1, 2, 3) for p in generate(family, 1, 150, False, seed=s, seen=set())}
    held = {p.problem for s in (4, 5) for p in generate(family, 1, 30, True, seed=s, seen=set())}
    assert held and train and not (train & held)
    assert all(in_heldout_partition(t) for t in held) and not any(in_heldout_partition(t) for t in train)


def test_levels_get_harder():
    easy = [int(p.meta["n"]) for p in generate("factor", 1, 50, False, seed=0, seen=set())]
    hard = [int(p.meta["n"]) for p in generate("factor", 4, 50, False, seed=0, seen=set())]
    assert max(easy) < min(hard)
