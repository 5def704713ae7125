"""The held-out evaluator every training stage uses (SFT curve, RL rounds, final numbers)."""

from typing import Any, Callable

from t1core.config import Params
from t1core.data.records import Problem
from t1core.eval.accuracy import GREEDY_KEY, N_KEY, SAMPLED_KEY, accuracy
from t1core.grading import Grader
from t1core.rollout import RolloutEngine

Evaluator = Callable[[Any, bool], dict[str, Any]]


def heldout_evaluator(
    params: Params, tokenizer: Any, engine: RolloutEngine, heldout: list[Problem], grader: Grader, limit: int | None,
) -> Evaluator:
    """evaluate(model, final): greedy accuracy on an even subset of `limit` items; when final,
    on every item, plus sampled pass@1 at eval.temperature and accuracy by family and level."""
    limit = limit or len(heldout)
    subset = heldout[:: max(1, len(heldout) // limit)][:limit]
    budget = params.eval.max_new_tokens

    def evaluate(model: Any, final: bool) -> dict[str, Any]:
        items = heldout if final else subset
        greedy = accuracy(model, tokenizer, engine, items, grader, budget)
        out = {GREEDY_KEY: greedy["accuracy"], N_KEY: greedy["n"], "self_corrected_rate": greedy["self_corrected_rate"],
               "wait_rate": greedy["wait_rate"], "mean_response_chars": greedy["mean_response_chars"]}
        if final:
            sampled = accuracy(model, tokenizer, engine, items, grader, budget, temperature=params.eval.temperature, seed=params.seed)
            out[SAMPLED_KEY] = sampled["accuracy"]
            out["by_family_greedy"] = by_family(items, greedy["grades"])
        return out

    return evaluate


def by_family(items: list[Problem], grades: list) -> dict[str, float]:
    groups: dict[str, list[bool]] = {}
    for p, g in zip(items, grades):
        groups.setdefault(f"{p.subject}_L{p.level}", []).append(g.correct)
    return {k: round(sum(v) / len(v), 4) for k, v in sorted(groups.items())}
