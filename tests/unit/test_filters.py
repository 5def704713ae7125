import pytest

from t1core.data.filters import (
    Decontaminator, NearDuplicateIndex, has_top_level_comma, is_multi_answer, is_proof, ngrams, split_of,
)
from t1core.data.records import Problem


def P(problem, answer="1"):
    return Problem(id="t:1", source="t", problem=problem, answer=answer)


@pytest.mark.parametrize(
    "text,proof",
    [("Prove that 2 is prime.", True), ("Show that $x>0$.", True), ("Find x.", False), ("An improved approach", False)],
)
def test_is_proof(text, proof):
    assert is_proof(P(text)) is proof


@pytest.mark.parametrize(
    "problem,answer,multi",
    [
        ("Find x.", "2 or 3", True),
        ("Find x.", r"2 \text{ or } 3", True),
        ("Find x.", "1; 2", True),
        ("Enter all the solutions, separated by commas.", "1, 5", True),
        ("Find the point.", "(1, 5)", False),
        ("Enter all the solutions, separated by commas.", "5", False),
        ("Find the set.", r"\{1, 2\}", False),
        ("How many?", "1,000", False),
        ("Find all x.", "1,000", False),
        ("Find the interval.", "[2, 5)", False),
    ],
)
def test_is_multi_answer(problem, answer, multi):
    assert is_multi_answer(P(problem, answer)) is multi


def test_top_level_comma_ignores_brackets_and_thousands():
    assert has_top_level_comma("1, 2")
    assert not has_top_level_comma("(1, 2)") and not has_top_level_comma("12,345")


def test_ngrams_of_short_text_is_whole_text():
    assert ngrams("Compute 3+4.", 5) == {("compute", "3", "+", "4", ".")}
    assert ngrams("a b c d", 2) == {("a", "b"), ("b", "c"), ("c", "d")}
    assert ngrams("", 3) == set()


def test_near_duplicate_index():
    idx = NearDuplicateIndex(n=3, threshold=0.8)
    base = "the quick brown fox jumps over the lazy dog near the old river bank today"
    assert idx.add_if_new(base) is None
    assert idx.add_if_new(base.upper()) == "exact_duplicate"
    assert idx.add_if_new(base + " again") == "near_duplicate"  # 14 of 15 trigrams shared
    assert idx.add_if_new("a completely different sentence about prime numbers and their gaps") is None
    assert idx.add_if_new("Compute 682+967.") is None
    assert idx.add_if_new("Compute 682-967.") is None  # symbols matter: not a duplicate


def test_decontamination_by_word_ngrams():
    d = Decontaminator(["The quadratic $x^2+2x$ can be written in the form $(x+b)^2+c$, where $b$ and $c$ are constants."], n=8)
    assert d.n_texts == 1
    assert d.contaminated(r"Our quadratic can be written in the form $(x+b)^2+c$, where b and c are constants!")
    assert not d.contaminated("Completely unrelated question about triangles and circles in a plane here.")


def test_split_is_a_stable_function_of_text():
    ps = [P(f"problem number {i}") for i in range(2000)]
    splits = [split_of(p, 0.1, 0.4) for p in ps]
    assert splits == [split_of(p, 0.1, 0.4) for p in ps]
    share = {s: splits.count(s) / len(splits) for s in ("heldout", "sft", "rl")}
    assert 0.07 < share["heldout"] < 0.13 and 0.3 < share["sft"] < 0.42
