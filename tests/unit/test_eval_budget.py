"""Budget truncation with a forced answer, and the evaluator's report, on a tiny model."""

import json

import pytest

from t1core.config import EvalConfig, ModelConfig, RLConfig
from t1core.data.records import Problem
from t1core.eval.budget import budget_grades, curve, cut
from t1core.eval.evaluator import evaluate_model
from t1core.eval.report import plot_scaling, scaling_rows, write_result
from t1core.grading import Grader
from t1core.models.chat import prompt_ids
from t1core.models.factory import build_tiny
from t1core.models.tokenizer import train_tokenizer
from t1core.rollout import Rollouts, make_rollout_engine

RESPONSE = "x=1: 1-1=0\nSo the answer is \\boxed{1}.\nVerify: 1-1=0 ok"
CUE = "\nSo the answer is \\boxed{"
TINY = ModelConfig(hidden_size=32, intermediate_size=64, num_layers=1, num_heads=2, max_seq_len=128, vocab_size=300)


@pytest.fixture(scope="module")
def tok():
    return train_tokenizer([RESPONSE, "Find the integer x with x-1=0.", "Compute 2+3."] * 30, vocab_size=300)


@pytest.fixture(scope="module")
def model(tok):
    return build_tiny(TINY, tok, seed=0).eval()


@pytest.fixture(scope="module")
def grader():
    with Grader() as g:
        yield g


class Scripted:
    """A rollout engine that answers every prompt with the same text and records what it was given."""

    def __init__(self, tok, text: str):
        self.ids = tok(text, add_special_tokens=False)["input_ids"]
        self.calls: list[list[list[int]]] = []

    def generate(self, model, prompts, max_new_tokens, temperature, top_p=1.0, seed=0):
        self.calls.append(prompts)
        out = Rollouts.empty(prompts)
        for i in range(len(prompts)):
            out.put(i, self.ids[:max_new_tokens], [0.0] * min(len(self.ids), max_new_tokens), False)
        return out


def test_cut_keeps_a_response_that_ended_within_the_budget():
    assert cut([5, 6, 1], True, 3) == ([5, 6, 1], True)
    assert cut([5, 6, 1], True, 2) == ([5, 6], False)
    assert cut([5, 6, 7], False, 8) == ([5, 6, 7], False)  # never ended: the whole of it, answer still forced


def test_natural_cut_and_forced_answers(tok, grader):
    problem = Problem(id="p", source="t", problem="Find the integer x with x-1=0.", answer="1")
    ids = tok(RESPONSE, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
    after_answer = len(tok(RESPONSE.split("\nVerify")[0], add_special_tokens=False)["input_ids"])
    rollouts = Rollouts([prompt_ids(tok, problem.problem)], [ids], [[0.0] * len(ids)], [True])
    engine = Scripted(tok, "1}.")
    budgets = [3, after_answer, len(ids)]
    (grades,) = budget_grades(None, tok, engine, [problem], rollouts, budgets, grader, CUE, 4)

    forced, answered, natural = grades
    assert forced.forced and forced.tokens == 3 and forced.correct and forced.extracted == "1"
    assert engine.calls == [[prompt_ids(tok, problem.problem) + ids[:3] + tok(CUE, add_special_tokens=False)["input_ids"]]]
    assert not answered.forced and answered.correct and answered.tokens == after_answer  # the answer was already written
    assert not natural.forced and natural.correct and natural.tokens == len(ids)
    rows = curve([grades], budgets)
    assert [r["forced_rate"] for r in rows] == [1.0, 0.0, 0.0] and rows[0]["accuracy"] == 1.0


def test_a_forced_answer_can_be_wrong(tok, grader):
    problem = Problem(id="p", source="t", problem="Compute 2+3.", answer="5")
    ids = tok(RESPONSE, add_special_tokens=False)["input_ids"]
    rollouts = Rollouts([prompt_ids(tok, problem.problem)], [ids], [[0.0] * len(ids)], [False])
    (grades,) = budget_grades(None, tok, Scripted(tok, "4}."), [problem], rollouts, [2], grader, CUE, 4)
    assert grades[0].forced and not grades[0].correct and grades[0].extracted == "4"


def test_report_schema_on_a_tiny_model(tok, model, grader, tmp_path):
    problems = [Problem(id=f"p{i}", source="t", problem=q, answer=a, subject=s, level=lv)
                for i, (q, a, s, lv) in enumerate([("Compute 2+3.", "5", "arith", 1), ("Find the integer x with x-1=0.", "1", "root", 2),
                                                   ("Compute 2+3.", "6", "arith", 2)])]
    cfg = EvalConfig(budgets=[4, 8], n_samples=2, temperature=1.0, max_new_tokens=8, forced_answer_tokens=3)
    engine = make_rollout_engine("cpu", tok)
    result = evaluate_model(model, tok, engine, problems, grader, cfg, RLConfig(), seed=0)
    rep = result.report

    assert rep["n"] == 3 and set(rep) >= {"greedy", "sampled", "budgets", "by_subject", "by_level"}
    for blk in (rep["greedy"], rep["sampled"]):
        assert set(blk) >= {"accuracy", "mean_tokens", "no_answer_rate", "penalty_rates", "wait_rate", "self_corrected_rate"}
        assert set(blk["penalty_rates"]) == {"overlong", "repetitive", "garbage", "spam", "padding"}
    assert set(rep["sampled"]) >= {"pass@1", "pass@2", "maj@2", "n_samples", "temperature"}
    assert [r["budget"] for r in rep["budgets"]] == [4, 8]
    assert rep["by_subject"]["arith"]["n"] == 2 and rep["by_level"]["2"]["n"] == 2
    for it in result.items:
        assert len(it["samples"]) == 2 and len(it["budgets"]) == 2
        assert it["greedy"]["tokens"] <= 8 and set(it["greedy"]) >= {"response", "extracted", "correct", "reason", "penalties"}
        for b in it["budgets"]:  # a budget either cut the one generation (answer forced) or the response ended within it
            ended = it["greedy"]["finished"] and it["greedy"]["tokens"] <= b["budget"]
            assert b["forced"] or ended or b["extracted"] is not None
            assert b["tokens"] <= b["budget"]
        if not it["greedy"]["finished"]:
            assert "overlong" in it["greedy"]["penalties"]  # the RL detector: no EOS within the budget
    unfinished = sum(not it["greedy"]["finished"] for it in result.items)
    assert rep["greedy"]["penalty_rates"]["overlong"] == pytest.approx(round(unfinished / 3, 4))

    report_path, items_path = write_result(result, tmp_path / "out", {"checkpoint": "tiny"})
    assert json.loads(report_path.read_text())["checkpoint"] == "tiny"
    assert len(items_path.read_text().splitlines()) == 3
    png = plot_scaling({"tiny": rep["budgets"]}, tmp_path / "s.png", "t")
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert scaling_rows({"tiny": rep["budgets"]})[0]["checkpoint"] == "tiny"
