"""Table-driven grader tests: extraction, equivalence, modes, limits."""

import threading
import time

import pytest

from t1core.grading import Grader, boxed_contents, extract_marked


@pytest.fixture(scope="module")
def strict():
    with Grader(mode="strict", timeout_s=5) as g:
        yield g


@pytest.fixture(scope="module")
def lenient():
    with Grader(mode="lenient", timeout_s=5) as g:
        yield g


# (text, expected extracted answer, expected method)
EXTRACT_CASES = [
    (r"so \boxed{42}", "42", "boxed"),
    (r"\boxed{\frac{1}{2}}", r"\frac{1}{2}", "boxed"),
    (r"\boxed{\frac{\sqrt{3}}{2}}", r"\frac{\sqrt{3}}{2}", "boxed"),
    (r"first \boxed{1} then \boxed{2}", "2", "boxed"),
    (r"\fbox{7}", "7", "boxed"),
    (r"\boxed 5 done", "5", "boxed"),
    (r"$\boxed{x^{2}+1}$", "x^{2}+1", "boxed"),
    (r"\boxed{\{1,2\}}", r"\{1,2\}", "boxed"),
    (r"\boxed{ 12 }", "12", "boxed"),
    (r"\boxed{(1, \infty)}", r"(1, \infty)", "boxed"),
    (r"\boxed{a{b{c{d}}}}", "a{b{c{d}}}", "boxed"),
    (r"\boxed{3} and \boxed{unclosed", "3", "boxed"),
    ("steps\n#### 72", "72", "hash"),
    ("#### 1,000\n", "1,000", "hash"),
    ("a\n#### 5\nb\n#### 6", "6", "hash"),
    ("The answer is 17.", "17", "answer_is"),
    ("So the final answer is $\\frac{3}{4}$.", r"\frac{3}{4}", "answer_is"),
    ("the answer is: 9\nmore text", "9", "answer_is"),
    ("The answer is 3. Then the answer is 4.", "4", "answer_is"),
    (r"The answer is 3 but \boxed{5}", "5", "boxed"),
    ("no answer here 12 13", None, "none"),
    ("", None, "none"),
    (r"\boxed{", None, "none"),
    (r"\boxed{\text{(B)}}", r"\text{(B)}", "boxed"),
    ("answer is \\(2\\pi\\).", r"2\pi", "answer_is"),
]


@pytest.mark.parametrize("text,answer,method", EXTRACT_CASES)
def test_extract_marked(text, answer, method):
    got = extract_marked(text)
    assert (got.answer, got.method) == (answer, method)


def test_boxed_counts_every_box():
    assert boxed_contents(r"\boxed{1}\boxed{2}\fbox{3}") == ["1", "2", "3"]
    assert extract_marked(r"\boxed{1}\boxed{2}").n_boxed == 2


def test_escaped_braces_do_not_close_box():
    assert boxed_contents(r"\boxed{\{1,2\}}") == [r"\{1,2\}"]


# (gold, predicted answer, equivalent?)
EQUIV_CASES = [
    ("42", "42", True),
    ("42", "42.0", True),
    ("42", "43", False),
    ("-3", "-3", True),
    ("-3", "3", False),
    ("0.5", r"\frac{1}{2}", True),
    (r"\frac{1}{2}", "0.5", True),
    (r"\frac12", r"\frac{1}{2}", True),
    (r"\dfrac{3}{4}", r"\frac{3}{4}", True),
    (r"\tfrac{3}{4}", "3/4", True),
    ("3/4", "0.75", True),
    (r"-\frac{2}{3}", r"\frac{-2}{3}", True),
    (r"\frac{2}{3}", "0.67", False),
    ("1000", "1,000", True),
    ("1,000,000", "1000000", True),
    ("12", r"12\%", True),
    ("30", r"30^\circ", True),
    ("30", r"30^{\circ}", True),
    ("5", r"5\text{ cm}", True),
    ("5", r"5 \text{ inches}", True),
    ("18", r"\$18", True),
    ("3", "x=3", True),
    ("3", "x = 3", True),
    ("x=3", "3", True),
    ("2", "y=2", True),
    (r"\sqrt{2}", r"\sqrt{2}", True),
    (r"\sqrt{8}", r"2\sqrt{2}", True),
    (r"\sqrt{2}/2", r"\frac{\sqrt{2}}{2}", True),
    (r"\frac{1}{\sqrt{2}}", r"\frac{\sqrt{2}}{2}", True),
    (r"2\sqrt{3}", r"\sqrt{12}", True),
    (r"\sqrt{3}", r"\sqrt{2}", False),
    (r"\pi", r"\pi", True),
    (r"2\pi", r"\pi", False),
    (r"\frac{\pi}{2}", r"\frac{1}{2}\pi", True),
    ("x^2+2x+1", "(x+1)^2", True),
    ("x^2+1", "x^2-1", False),
    ("2x+3", "3+2x", True),
    (r"(1,2)", r"(1, 2)", True),
    (r"(1,2)", r"(2,1)", False),
    (r"[1,3)", r"[1, 3)", True),
    (r"[1,3)", r"(1,3]", False),
    (r"(-\infty, 2]", r"(-\infty,2]", True),
    (r"(0,\infty)", r"(0, \infty)", True),
    (r"\{1,2,3\}", r"\{3,2,1\}", True),
    (r"\{1,2\}", r"\{1,3\}", False),
    ("1e3", "1000", True),
    (".5", "0.5", True),
    ("0.25", "1/4", True),
    ("7", "7.", True),
    ("7", "$7$", True),
    ("7", " 7 ", True),
    (r"\left(1,2\right)", "(1,2)", True),
    ("10", "10.5", False),
    (r"\frac{7}{2}", "3.5", True),
    (r"3\frac{1}{2}", r"\frac{7}{2}", True),
    (r"\text{(B)}", r"\text{(B)}", True),
    ("i", "i", True),
    ("2+3i", "3i+2", True),
    (r"\infty", r"\infty", True),
    ("0", "-0", True),
    ("100", "1e2", True),
    ("5", "five", False),
    ("6", "", False),
    (r"\frac{3}{0}", "3", False),
    ("-1", "−1", True),
    (r"\text{Friday}", "Friday", True),
    (r"\text{Friday}", r"\text{friday}", True),
    (r"\text{Friday}", "Monday", False),
    (r"\text{B}", "(B)", True),
    (r"\text{B}", "B", True),
    (r"\text{B}", "C", False),
    (r"\text{odd}", r"\text{even}", False),
    (r"\dfrac{1}{29,\!322,\!216}", r"\frac{1}{29322216}", True),
    (r"7\text{ hours}.", "7", True),
    (r"\text{(E)},", "E", True),
    ("x", "x", True),
    ("x", "y", False),
]


@pytest.mark.parametrize("gold,pred,same", EQUIV_CASES)
def test_equivalent(strict, gold, pred, same):
    ok, reason = strict.equivalent(gold, pred)
    assert ok is same, reason


# (response, gold, correct in strict mode, correct in lenient mode)
MODE_CASES = [
    (r"so \boxed{12}", "12", True, True),
    ("the sum is 12", "12", False, True),
    ("we get x = 12", "12", False, True),
    ("#### 12", "12", True, True),
    ("The answer is 12.", "12", True, True),
    ("12 then 13", "12", False, False),
    ("nothing numeric", "12", False, False),
    (r"\boxed{11} ... so 12", "12", False, False),
    (r"hence $\frac{1}{2}$", "0.5", False, True),
]


@pytest.mark.parametrize("response,gold,strict_ok,lenient_ok", MODE_CASES)
def test_modes(strict, lenient, response, gold, strict_ok, lenient_ok):
    assert strict(response, gold).correct is strict_ok
    assert lenient(response, gold).correct is lenient_ok


def test_result_is_structured(strict):
    r = strict(r"\boxed{\frac{1}{2}}", "0.5")
    assert (r.correct, r.extracted, r.method, r.reward) == (True, r"\frac{1}{2}", "boxed", 1.0)
    assert r.reason.startswith("match:")
    r = strict("no mark", "1")
    assert (r.correct, r.reason, r.reward) == (False, "no_answer", 0.0)


def test_overlong_answer_is_wrong_without_parsing(strict):
    r = strict("\\boxed{" + "1" * 5000 + "}", "1")
    assert (r.correct, r.reason) == (False, "answer_too_long")


@pytest.mark.parametrize(
    "gold,checkable",
    [("12", True), (r"\frac{1}{2}", True), ("(1,2)", True), (r"\sqrt{2}", True), ("", False), ("   ", False),
     (r"\text{Friday}", True), (r"\text{B}", True), (r"\frac{1}{", False)],
)
def test_is_checkable(strict, gold, checkable):
    assert strict.is_checkable(gold) is checkable


def test_time_limit_holds_off_main_thread():
    """A pathological item is cut at the limit even when graded from a worker thread."""
    with Grader(timeout_s=1.0) as g:
        out = {}

        def run():
            t = time.monotonic()
            out["r"] = g("\\boxed{10^{10^{10^{10^{10}}}}}", "10^{10^{10^{10^{9}}}}")
            out["dt"] = time.monotonic() - t

        th = threading.Thread(target=run)
        th.start()
        th.join(30)
        assert not th.is_alive()
        assert out["dt"] < 5.0
        assert out["r"].correct is False
        # the grader keeps working after a timeout (the worker is restarted)
        assert g(r"\boxed{\frac{2}{4}}", "0.5").correct


def test_bad_mode_is_rejected():
    with pytest.raises(ValueError, match="mode"):
        Grader(mode="fuzzy")


# --- issue #9: adversarial model outputs, graded with the default settings ---------------------------------

ADVERSARIAL = [  # (id, response, gold, correct)
    ("power tower", r"\boxed{10^{10^{10^{10}}}}", "1", False),
    ("5,000 nested braces", "\\boxed{" + "{" * 5000 + "1" + "}" * 5000 + "}", "1", False),
    ("5,000 unclosed braces", "{" * 5000 + "1", "1", False),
    ("100 different boxed answers", "".join(f"\\boxed{{{i}}}" for i in range(100)), "99", False),
    ("1 MB of digits", "1" * 1_000_000, "1", False),
    ("1 MB of digits boxed", "\\boxed{" + "1" * 1_000_000 + "}", "1", False),
    ("1 MB answer-is", "The answer is " + "1" * 1_000_000, "1", False),
    ("Cyrillic Ze for 3", "\\boxed{З}", "3", False),
    ("letter O for 0", "\\boxed{O}", "0", False),
    ("letter l for 1", "\\boxed{l}", "1", False),
    ("fullwidth digits", "\\boxed{４２}", "42", True),  # Unicode decimal digits are read as the digits they are
    ("mathematical bold digits", "\\boxed{𝟒𝟐}", "42", True),
    ("box never closes", r"\boxed{\frac{1}{2", "1/2", False),
    ("200,000 boxes never close", "\\boxed{" * 200_000, "1", False),
    ("200,000 bare boxes", "\\boxed " * 200_000, "1", False),
    ("\\left( never closes", "\\boxed{\\left( 1" + "\\left(" * 10_000, "1", False),
    ("\\begin never ends", r"\boxed{\begin{pmatrix} 1 & 2", "1", False),
    ("100,000 dollar signs", "$" * 100_000 + r"\boxed{1}", "1", True),
]


@pytest.fixture(scope="module", params=["strict", "lenient"])
def default_grader(request):
    from t1core.config import GradingConfig

    with Grader.from_config(GradingConfig(mode=request.param)) as g:
        assert g.is_checkable(r"\sqrt{2}")  # a warm worker, as during RL and eval
        yield g


@pytest.mark.parametrize("case,response,gold,correct", ADVERSARIAL, ids=[c[0] for c in ADVERSARIAL])
def test_adversarial_outputs_are_graded_within_5s(default_grader, case, response, gold, correct):
    t = time.monotonic()
    r = default_grader(response, gold)
    assert time.monotonic() - t < 5.0
    assert r.correct is correct, r
    assert default_grader(r"\boxed{\frac{2}{4}}", "0.5").correct  # and the grader still works after it


@pytest.mark.parametrize(
    "response,gold,correct,reason",
    [
        (r"\boxed{3} or \boxed{4}", "4", False, "conflicting_answers"),  # hedging: no credit though the last is right
        (r"\boxed{4} then \boxed{3}", "4", False, "mismatch"),
        (r"$\boxed{15\frac{39}{40}}$, or $\boxed{\frac{639}{40}}$", r"\frac{639}{40}", True, "match:exact"),  # MATH500 #452
        (r"\boxed{4} \boxed{ 4 } \boxed{4.0}", "4", True, "match:numeric"),  # one answer, restated
        ("".join(rf"\boxed{{{i}}}" for i in (1, 2, 3, 4)), "4", False, "conflicting_answers"),  # spam: nothing parsed
    ],
)
def test_several_different_boxed_answers_earn_no_credit(strict, response, gold, correct, reason):
    r = strict(response, gold)
    assert (r.correct, r.reason) == (correct, reason)


def test_one_time_budget_covers_every_worker_call_of_an_item():
    """Two slow comparisons of one item share its limit: the second gets what is left (nothing)."""
    from t1core.grading.worker import Budget

    with Grader(timeout_s=1.0) as g:
        assert g.is_checkable(r"\sqrt{2}")
        tower = r"10^{10^{10^{10^{%d}}}}"
        budget, t = Budget(1.0), time.monotonic()
        assert g.equivalent(tower % 10, tower % 9, budget) == (False, "timeout")
        assert g.equivalent(tower % 10, tower % 8, budget) == (False, "timeout")
        assert time.monotonic() - t < 1.5
