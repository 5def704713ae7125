"""pass@k, maj@k and the eval-file loaders, against hand-computed values and small fixtures."""

import json

import pytest

from t1core.data.formats import detect_format, load_eval_set
from t1core.data.records import DataError
from t1core.eval.metrics import ks_for, majority_vote, pass_at_k, sample_metrics
from tests.conftest import FIXTURES

EVAL = FIXTURES / "eval"


@pytest.mark.parametrize(("n", "c", "k", "want"), [
    (4, 1, 1, 0.25),
    (4, 1, 2, 0.5),  # 1 - C(3,2)/C(4,2) = 1 - 3/6
    (5, 2, 3, 0.9),  # 1 - C(3,3)/C(5,3) = 1 - 1/10
    (8, 0, 8, 0.0),
    (8, 6, 3, 1.0),  # fewer than k wrong samples: every k-subset holds a right one
    (10, 3, 4, 1 - 35 / 210),  # 1 - C(7,4)/C(10,4)
])
def test_pass_at_k_hand_values(n, c, k, want):
    assert pass_at_k(n, c, k) == pytest.approx(want)


def test_pass_at_k_rejects_impossible_counts():
    with pytest.raises(ValueError):
        pass_at_k(4, 5, 1)
    with pytest.raises(ValueError):
        pass_at_k(4, 1, 5)


def test_majority_vote():
    answers, correct = ["3", "4", " 4", None], [True, False, False, False]
    assert majority_vote(answers, correct, 4) is False  # '4' (normalised) beats '3' two to one
    assert majority_vote(answers, correct, 1) is True
    assert majority_vote(["3", "4"], [True, False], 2) is True  # a tie goes to the answer seen first
    assert majority_vote([None, None], [False, False], 2) is False  # nobody answered


def test_sample_metrics_means_over_problems():
    items = [(["1", "1", "2", "2"], [True, True, False, False]), (["5", "6", "6", "6"], [True, False, False, False])]
    m = sample_metrics(items)
    assert ks_for(4) == [1, 2, 4]
    assert m["pass@1"] == pytest.approx((0.5 + 0.25) / 2)
    assert m["pass@2"] == pytest.approx(((1 - 1 / 6) + (1 - 3 / 6)) / 2)
    assert m["pass@4"] == pytest.approx(1.0)
    assert m["maj@2"] == pytest.approx(1.0)  # item 1: '1','1' -> right; item 2: '5' vs '6' tie -> '5' (first) right
    assert m["maj@4"] == pytest.approx(0.5)  # item 1: tie 2-2 -> '1' right; item 2: '6' wins 3-1 -> wrong


@pytest.mark.parametrize(("name", "fmt", "answer"), [
    ("omni.jsonl", "omni", "2"),
    ("math.jsonl", "math", "2"),
    ("gsm8k.jsonl", "gsm8k", "7"),
    ("benchmark.jsonl", "benchmark", "1024"),
    ("math500.jsonl", "benchmark", "12"),
    ("problem.jsonl", "problem", "36"),
])
def test_each_layout_is_detected_and_loaded(name, fmt, answer):
    found, problems = load_eval_set(EVAL / name)
    assert found == fmt and problems[0].answer == answer
    assert "Please reason step by step" not in problems[0].problem


def test_numina_fixture_is_detected():
    row = json.loads((FIXTURES / "numina_sample.jsonl").read_text().splitlines()[0])
    assert detect_format(row) == "numina"


def test_omni_keeps_domain_and_difficulty():
    _, (p, _) = load_eval_set(EVAL / "omni.jsonl")
    assert p.subject == "Algebra" and p.level == 6 and p.meta["difficulty"] == 6.5


def test_gpqa_options_are_shuffled_stably_and_the_letter_points_at_the_right_one():
    _, problems = load_eval_set(EVAL / "gpqa.jsonl")
    _, again = load_eval_set(EVAL / "gpqa.jsonl")
    assert [p.problem for p in problems] == [p.problem for p in again]  # same order on every run
    for p, right in zip(problems, ["photon", "7"]):
        letter = p.answer
        assert f"({letter}) {right}\n" in p.problem + "\n"
        assert p.meta["options"]["ABCD".index(letter)] == right
        assert p.problem.count("(") >= 4
    assert {p.answer for p in problems} <= set("ABCD")


def test_fields_can_be_named_when_the_layout_is_unknown():
    with pytest.raises(DataError) as e:
        load_eval_set(EVAL / "custom.jsonl")
    assert "custom.jsonl:1" in str(e.value) and "['gold', 'notes', 'q']" in str(e.value)
    found, (p,) = load_eval_set(EVAL / "custom.jsonl", problem_field="q", answer_field="gold")
    assert found == "mapped" and p.problem == "Compute 5+5." and p.answer == "10"


def test_a_bad_row_names_file_line_and_field(tmp_path):
    f = tmp_path / "gsm.jsonl"
    f.write_text('{"question": "a", "answer": "#### 1"}\n{"question": "b"}\n')
    with pytest.raises(DataError) as e:
        load_eval_set(f)
    assert e.value.line == 2 and e.value.field == "answer"


def test_rl_rounds_nearest_each_fraction():
    from t1core.stages.evaluate import pick_rounds

    assert pick_rounds(8, [0.3, 0.6, 0.9, 1.0]) == [2, 5, 7, 8]
    assert pick_rounds(2, [0.3, 0.6, 0.9, 1.0]) == [1, 2]
    assert pick_rounds(0, [0.3, 1.0]) == []
