"""Held-out accuracy with the shared key names every stage uses."""

from typing import Any

from t1core.data.records import Problem
from t1core.eval.generate import generate_responses
from t1core.grading import Grader
from t1core.rollout import RolloutEngine

# Key names shared by every stage that measures held-out accuracy (metrics/<stage>.json).
GREEDY_KEY, SAMPLED_KEY, N_KEY = "heldout_accuracy_greedy", "heldout_pass1_t1", "heldout_n"


def accuracy(
    model: Any, tokenizer: Any, engine: RolloutEngine, problems: list[Problem], grader: Grader, max_new_tokens: int,
    temperature: float | None = None, seed: int = 0,
) -> dict[str, Any]:
    """Accuracy of one generation per problem, plus how often a 'Wait' led to a right answer."""
    responses = generate_responses(model, tokenizer, engine, [p.problem for p in problems], max_new_tokens, temperature, seed=seed)
    grades = [grader(r, p.answer or "") for r, p in zip(responses, problems)]
    n = max(1, len(problems))
    return {
        "accuracy": sum(g.correct for g in grades) / n,
        "n": len(problems),
        **reflection_rates(responses, [g.correct for g in grades]),
        "mean_response_chars": sum(len(r) for r in responses) / n,
        "responses": responses,
        "grades": grades,
    }


def reflection_rates(responses: list[str], correct: list[bool]) -> dict[str, float]:
    """How often a response says 'Wait' (re-checks), and how often it does so and still ends right."""
    n = max(1, len(responses))
    waited = ["Wait" in r for r in responses]
    return {
        "wait_rate": sum(waited) / n,
        "self_corrected_rate": sum(w and c for w, c in zip(waited, correct)) / n,
    }
