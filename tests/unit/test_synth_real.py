"""Real-data producers without a model: the teacher's merge (pure) and the reference-solution producer."""

import pytest

from t1core.data.records import Problem
from t1core.grading import Grader
from t1core.grading.extract import count_answer_marks
from t1core.synth.produce import synthesize_reference
from t1core.synth.reference import reference_response
from t1core.synth.teacher import Attempt, merge, unmark

GSM = Problem(id="gsm8k:1", source="gsm8k", problem="Natalia sold 48 clips in April and half as many in May. How many in all?",
              answer="72", solution="Natalia sold 48/2 = <<48/2=24>>24 clips in May.\nShe sold 48+24 = <<48+24=72>>72 clips.\n#### 72")


@pytest.fixture(scope="module")
def grader():
    with Grader() as g:
        yield g


def test_unmark_removes_every_answer_mark():
    text = "48/2 = 24, so \\boxed{24}.\n#### 24\nThe answer is 24. The final answer is \\boxed{\\frac{1}{2}}"
    out = unmark(text)
    assert count_answer_marks(out) == 0 and "\\boxed" not in out and "####" not in out
    assert "24" in out and "\\frac{1}{2}" in out


def test_merge_marks_only_the_final_answer_and_ends_in_a_self_check(grader):
    wrong = Attempt("48/2 = 12, so she sold 48+12 = 60.\n#### 60", False)
    right = Attempt("48/2 = 24 in May; 48+24 = 72.\nThe answer is \\boxed{72}", True)
    trace = merge(right, "72", "72 - 48 = 24 = 48/2, \\boxed{72} holds.", wrong, "Half of 48 is 24, not 12; the answer is 60 is wrong.")
    assert count_answer_marks(trace) == 1 and grader(trace, "72").correct
    assert trace.index("60") < trace.index("Wait, let me check that.") < trace.index("48+24") < trace.index("\\boxed{72}")
    assert trace.splitlines()[-1].startswith("Let me verify: ")
    single = merge(right, "72", "It checks out.")
    assert "Wait" not in single and grader(single, "72").correct


def test_reference_response_strips_gsm8k_annotations_and_marks_the_gold_answer(grader):
    text = reference_response(GSM)
    assert "<<" not in text and "####" not in text and text.endswith("So the answer is \\boxed{72}.")
    assert grader(text, "72").correct


def test_reference_keeps_a_math_solutions_own_box():
    p = Problem(id="math:1", source="math", problem="1+1?", answer="2", solution="Clearly $1+1=\\boxed{2}$.")
    assert reference_response(p) == "Clearly $1+1=\\boxed{2}$."


def test_synthesize_reference_counts_every_problem_without_a_trace(grader):
    no_solution = Problem(id="gsm8k:2", source="gsm8k", problem="x?", answer="3", solution=None)
    disagrees = Problem(id="math:2", source="math", problem="y?", answer="5", solution="So $\\boxed{4}$.")
    traces, stats = synthesize_reference([GSM, no_solution, disagrees], grader)
    assert [t.id for t in traces] == ["gsm8k:1#0"] and traces[0].producer == "reference"
    assert stats == {"traces": 1, "no_solution": 1, "invalid_trace": 1}
