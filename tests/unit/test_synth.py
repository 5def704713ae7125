"""Programmatic trial-and-error traces: shape, validity, slips exposed by true checks."""

import random
from fractions import Fraction

import pytest

from t1core.data.procedural import GENERATORS, generate
from t1core.grading import Grader, extract_marked
from t1core.synth.checks import CheckError, check_line_is_true, check_lines, evaluate
from t1core.synth.produce import TraceError, synthesize, validate
from t1core.synth.programmatic import (
    BUILDERS, _poly_terms, column_add, column_mul_digit, column_sub, long_division, poly_at, root_candidates,
)
from t1core.synth.schema import Trace


@pytest.fixture(scope="module")
def grader():
    with Grader() as g:
        yield g


@pytest.mark.parametrize("family", sorted(BUILDERS))
@pytest.mark.parametrize("slip", [False, True])
def test_traces_are_valid_and_well_shaped(family, slip):
    for level in (1, 2, 3, 4):
        for i, p in enumerate(generate(family, level, 25, False, seed=11, seen=set())):
            built = BUILDERS[family](p, random.Random(i), slip)
            lines = built.response.splitlines()
            assert extract_marked(built.response).answer == p.answer
            assert lines[-2] == f"So the answer is \\boxed{{{p.answer}}}." and lines[-1].startswith("Verify: ")
            assert all(check_line_is_true(line) for line in check_lines(built.response))
            if built.has_slip:
                assert built.n_attempts == 2 and "Wait," in built.response
                wait = next(j for j, l in enumerate(lines) if l.startswith("Wait,"))
                before = lines[wait - 1]  # what exposed it: a failing check, or (pair) a search that found nothing
                assert (before.startswith("Check:") and "!=" in before) or (family == "pair" and before.endswith(" no"))
            else:
                assert built.n_attempts == 1 and "Wait" not in built.response and "!=" not in built.response


def test_slips_are_realistic_examples():
    p = next(p for p in generate("arith", 3, 50, False, seed=1, seen=set()) if p.meta["op"] == "*")
    built = BUILDERS["arith"](p, random.Random(0), True)
    first = built.response.splitlines()[0]
    assert first.split("=")[-1] != p.answer  # the first attempt is wrong ...
    assert f"\\boxed{{{p.answer}}}" in built.response  # ... and the trace ends right


@pytest.mark.parametrize(
    "line,ok",
    [
        ("Check: 28*347=8400+1120+196=9716!=9706", True),
        ("Check: 7*5-12=23, 3*5+8=23 ok", True),
        ("Check: 7*(-5)-12=-47, 3*(-5)+8=-7, -47!=-7", True),
        ("Verify: (-2)^3-2*(-2)^2=-16 ok", True),
        ("Check: 18151/7=2593!=2592", True),
        ("Check: 2+2=5", False),
        ("Check: 2+2!=4", False),
        ("Check: 12/4=3, 3+1=5 ok", False),
    ],
)
def test_check_line_truth(line, ok):
    assert check_line_is_true(line) is ok


@pytest.mark.parametrize("bad", ["Check: import os=1", "Check: 2**99=0", "Check: 1/0=1", "Check: 9^99=1", "Check: no relation", "hello"])
def test_malformed_check_lines_raise(bad):
    with pytest.raises(CheckError):
        check_line_is_true(bad)


def test_evaluate_is_exact():
    assert evaluate("18152/7") == Fraction(18152, 7) and evaluate("(-3)^3+27") == 0


def test_root_helpers():
    assert poly_at([1, -2, -5, 6], -2) == "(-2)^3-2*(-2)^2-5*(-2)+6"
    assert evaluate(poly_at([1, -2, -5, 6], 3)) == 0
    assert root_candidates([1, 0, 0, -6]) == [1, -1, 2, -2, 3, -3, 6, -6]
    assert root_candidates([1, 2, 3, 0]) == [0]


def test_stepwise_root_values_and_long_division():
    # x^3-x^2-10x+6 at -2: terms -8, -4, 20, 6, summed two at a time
    assert _poly_terms([1, -1, -10, 6], -2, wrong=False) == "-8-4+20+6 = -12+20+6 = 8+6 = 14"
    assert _poly_terms([1, -1, -10, 6], -2, wrong=True).endswith("= 0")  # the slip: the constant term made to cancel
    assert _poly_terms([1, 0, -3, 0], 0, wrong=False) == "0"
    # 2483 = 3*827 + 2; 1157 = 13*89 (leading prefixes below 13 are carried, not written)
    assert long_division(2483, 3) == ("24=3*8, 8=3*2+2, 23=3*7+2", 827, 2)
    assert long_division(1157, 13) == ("115=13*8+11, 117=13*9", 89, 0)


def test_pair_search_tries_the_pairs_in_order_and_every_slip_is_caught():
    kinds = set()
    for i, p in enumerate(generate("pair", 3, 40, False, seed=5, seen=set())):
        nums, target = p.meta["nums"], p.meta["target"]
        in_order = [(x, y) for j, x in enumerate(nums) for y in nums[j + 1:]]
        answer_at = next(j for j, (x, y) in enumerate(in_order) if x + y == target)
        for slip in (False, True):
            built = BUILDERS["pair"](p, random.Random(i), slip)
            lines = built.response.splitlines()
            said = [line.rsplit(" ", 1) for line in lines if line.endswith((" no", " yes"))]
            pairs = [tuple(map(int, rel.split("=")[0].split("+"))) for rel, _ in said]
            sums = [int(rel.split("=")[1]) for rel, _ in said]
            yes = [verdict == "yes" for _, verdict in said]
            if not slip:
                assert pairs == in_order[: answer_at + 1] and yes == [s == target for s in sums] and yes[-1]
            elif "Wait, no pair adds up" in built.response:  # the right pair mis-added and passed over, caught
                kinds.add("missed")
                assert pairs == in_order and not any(yes) and target not in sums
                assert built.response.count("Check: ") == answer_at + 1
            else:  # a wrong pair said to add up, caught by its check against the target
                fake = yes.index(True)
                kinds.add("mis_added" if sums[fake] == target else "misjudged")
                assert pairs == in_order[: answer_at + 1] and yes.count(True) == 2 and fake < answer_at
                assert sum(pairs[fake]) != target and f"!={target}" in built.response
    assert kinds == {"missed", "mis_added", "misjudged"}


def test_validate_rejects_false_checks_and_wrong_answers(grader):
    base = dict(id="x#0", problem_id="x", problem="Compute 2+2.", answer="4", producer="programmatic", n_attempts=1, has_slip=False)
    validate(Trace(**base, response="2+2=4\nCheck: 4-2=2 ok\nSo the answer is \\boxed{4}.\nVerify: 2+2=4 ok"), grader)
    with pytest.raises(TraceError, match="false check line"):
        validate(Trace(**base, response="2+2=4\nCheck: 4-2=3 ok\nSo the answer is \\boxed{4}."), grader)
    with pytest.raises(TraceError, match="does not grade correct"):
        validate(Trace(**base, response="So the answer is \\boxed{5}."), grader)


def test_synthesize_counts_and_slip_rate(grader):
    problems = [p for fam in GENERATORS for p in generate(fam, 2, 60, False, seed=2, seen=set())]
    traces, stats = synthesize(problems, slip_rate=0.5, per_problem=2, seed=0, grader=grader)
    assert stats["traces"] == len(traces) == 2 * len(problems)
    share = stats["with_slip"] / stats["traces"]
    assert 0.3 < share < 0.55  # some draws cannot slip (e.g. the first candidate is the root)
    clean, _ = synthesize(problems, slip_rate=0.0, per_problem=1, seed=0, grader=grader)
    assert not any(t.has_slip for t in clean)


def test_non_procedural_problems_are_counted_not_dropped(grader):
    from t1core.data.records import Problem

    p = Problem(id="math:1", source="math", problem="What is 1+1?", answer="2")
    traces, stats = synthesize([p], 0.5, 1, 0, grader)
    assert traces == [] and stats["no_producer"] == 1


def test_column_arithmetic_is_exact_and_readable():
    assert column_add(347, 285) == ("7+5=12, 4+8+1=13, 3+2+1=6", 632)
    assert column_sub(347, 289) == ("17-9=8, 13-8=5, 2-2=0", 58)
    assert column_mul_digit(347, 8) == ("7*8=56, 4*8+5=37, 3*8+3=27", 2776)
    for a in range(0, 1200, 7):
        for b in range(0, a + 1, 11):
            assert column_add(a, b)[1] == a + b and column_sub(a, b)[1] == a - b
        for d in range(1, 10):
            assert column_mul_digit(a, d)[1] == a * d
    assert column_add(347, 285, drop_carry=1)[1] == 622  # a dropped carry is a realistic slip
