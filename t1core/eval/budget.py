"""Inference scaling: one generation per problem, cut at each token budget, with a forced answer.

For budget B a response that ended (EOS) within B tokens is graded as it is. A longer
one is cut to its first B tokens; if the cut text already holds a marked answer it is
graded as cut, otherwise the answer cue is appended and the policy itself completes
it greedily (`forced_tokens` at most), as the paper forces an answer when the
thinking runs out. No voting, no verifier: one generation, one answer per budget.
"""

from dataclasses import dataclass
from typing import Any

from t1core.grading import Grader
from t1core.models.chat import prompt_ids
from t1core.rollout import RolloutEngine, Rollouts


@dataclass(frozen=True)
class BudgetGrade:
    budget: int
    correct: bool
    extracted: str | None
    forced: bool  # the answer came from the cue + completion
    tokens: int  # response tokens spent within the budget (forced completion excluded)


def cut(tokens: list[int], finished: bool, budget: int) -> tuple[list[int], bool]:
    """(the tokens kept under `budget`, whether the response ended within it). EOS counts as a token."""
    if finished and len(tokens) <= budget:
        return tokens, True
    return tokens[:budget], False


def budget_grades(
    model: Any, tokenizer: Any, engine: RolloutEngine, problems: list[Any], rollouts: Rollouts, budgets: list[int],
    grader: Grader, cue: str, forced_tokens: int,
) -> list[list[BudgetGrade]]:
    """grades[i][j]: problem i at budgets[j], from the one generation in `rollouts` (made at >= max(budgets))."""
    cue_ids = tokenizer(cue, add_special_tokens=False)["input_ids"]
    grades: list[list[BudgetGrade]] = [[] for _ in problems]
    for budget in budgets:
        pending: list[tuple[int, str, int]] = []  # (problem index, cut text, tokens kept)
        for i, p in enumerate(problems):
            kept, ended = cut(rollouts.tokens[i], rollouts.finished[i], budget)
            text = tokenizer.decode(kept, skip_special_tokens=True)
            result = grader(text, p.answer)
            if ended or result.extracted is not None:
                grades[i].append(BudgetGrade(budget, result.correct, result.extracted, False, len(kept)))
            else:
                pending.append((i, text, len(kept)))
        if pending:
            forced = engine.generate(
                model, [prompt_ids(tokenizer, problems[i].problem) + rollouts.tokens[i][:n] + cue_ids for i, _, n in pending],
                forced_tokens, 0.0,
            )
            for (i, text, n), completion in zip(pending, forced.tokens):
                result = grader(text + cue + tokenizer.decode(completion, skip_special_tokens=True), problems[i].answer)
                grades[i].append(BudgetGrade(budget, result.correct, result.extracted, True, n))
    return grades


def curve(grades: list[list[BudgetGrade]], budgets: list[int]) -> list[dict[str, float]]:
    """Accuracy, forced-answer rate and mean tokens spent at each budget."""
    n = max(1, len(grades))
    rows = []
    for j, budget in enumerate(budgets):
        at = [g[j] for g in grades]
        rows.append({
            "budget": budget,
            "accuracy": round(sum(g.correct for g in at) / n, 4),
            "forced_rate": round(sum(g.forced for g in at) / n, 4),
            "mean_tokens": round(sum(g.tokens for g in at) / n, 2),
        })
    return rows
