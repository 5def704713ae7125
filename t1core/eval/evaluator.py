"""Evaluate one model on one problem set: greedy, n samples at a temperature, and token budgets.

The prompts (`models/chat.prompt_ids`), the grader and the penalty detectors are the
very objects RL uses, so an eval number and an RL reward can never disagree on what a
right answer or a penalised response is. The result is a JSON report plus one row per
problem with every response, extracted answer and grade, so any number can be audited.
"""

from collections import defaultdict
from dataclasses import asdict, dataclass
from typing import Any

from t1core.config import EvalConfig, RLConfig
from t1core.data.records import Problem
from t1core.eval.accuracy import reflection_rates
from t1core.eval.budget import BudgetGrade, budget_grades, curve
from t1core.eval.metrics import sample_metrics
from t1core.grading import Grader
from t1core.models.chat import prompt_ids
from t1core.models.device import eval_mode
from t1core.rl import penalties
from t1core.rollout import RolloutEngine, Rollouts


@dataclass(frozen=True)
class EvalResult:
    report: dict[str, Any]
    items: list[dict[str, Any]]  # one row per problem: prompt, responses, extracted answers, grades


def evaluate_model(
    model: Any, tokenizer: Any, engine: RolloutEngine, problems: list[Problem], grader: Grader,
    cfg: EvalConfig, rl_cfg: RLConfig, seed: int,
) -> EvalResult:
    """Greedy (also the budget curve's one generation) plus cfg.n_samples per problem at cfg.temperature."""
    n, temp, budgets = cfg.n_samples, cfg.temperature, cfg.budgets
    with eval_mode(model):
        prompts = [prompt_ids(tokenizer, p.problem) for p in problems]
        greedy = engine.generate(model, prompts, cfg.max_new_tokens, 0.0)
        sampled = engine.generate(model, [q for q in prompts for _ in range(n)], cfg.max_new_tokens, temp, seed=seed) if n else None
        scaled = budget_grades(model, tokenizer, engine, problems, greedy, budgets, grader, cfg.answer_cue,
                               cfg.forced_answer_tokens) if budgets else [[] for _ in problems]
    g_rows = graded(tokenizer, greedy, problems, grader, rl_cfg, 1)
    s_rows = graded(tokenizer, sampled, problems, grader, rl_cfg, n) if sampled is not None else [[] for _ in problems]
    items = [_item(p, g[0], s, b) for p, g, s, b in zip(problems, g_rows, s_rows, scaled)]
    return EvalResult(report(items, n, temp, budgets), items)


def graded(tokenizer: Any, out: Rollouts, problems: list[Problem], grader: Grader, rl_cfg: RLConfig, per: int) -> list[list[dict]]:
    """rows[i]: the `per` responses to problem i, each decoded, graded and checked by the RL penalty detectors."""
    rows: list[list[dict]] = [[] for _ in problems]
    for j, (toks, done) in enumerate(zip(out.tokens, out.finished)):
        text = tokenizer.decode(toks, skip_special_tokens=True)
        result = grader(text, problems[j // per].answer or "")
        fired = penalties.flags(toks, text, done, rl_cfg)
        rows[j // per].append({
            "response": text, "extracted": result.extracted, "correct": result.correct, "reason": result.reason,
            "tokens": len(toks), "finished": done,
            "penalties": [k for k in penalties.KINDS if getattr(fired, k)],
        })
    return rows


def _item(p: Problem, greedy: dict, samples: list[dict], budgets: list) -> dict[str, Any]:
    return {
        "id": p.id, "problem": p.problem, "answer": p.answer, "subject": p.subject, "level": p.level,
        "greedy": greedy, "samples": samples,
        "budgets": [asdict(b) for b in budgets],
    }


def block(responses: list[dict]) -> dict[str, Any]:
    """Accuracy, length, answer and penalty rates of a flat list of graded responses."""
    m = max(1, len(responses))
    return {
        "accuracy": round(sum(r["correct"] for r in responses) / m, 4),
        "mean_tokens": round(sum(r["tokens"] for r in responses) / m, 2),
        "mean_chars": round(sum(len(r["response"]) for r in responses) / m, 2),
        "no_answer_rate": round(sum(r["extracted"] is None for r in responses) / m, 4),
        "penalty_rates": {k: round(sum(k in r["penalties"] for r in responses) / m, 4) for k in penalties.KINDS},
        **{k: round(v, 4) for k, v in reflection_rates([r["response"] for r in responses], [r["correct"] for r in responses]).items()},
    }


def report(items: list[dict], n_samples: int, temperature: float, budgets: list[int]) -> dict[str, Any]:
    out: dict[str, Any] = {"n": len(items), "greedy": block([it["greedy"] for it in items])}
    if n_samples:
        votes = [([s["extracted"] for s in it["samples"]], [s["correct"] for s in it["samples"]]) for it in items]
        out["sampled"] = {
            "n_samples": n_samples, "temperature": temperature,
            **block([s for it in items for s in it["samples"]]),
            **{k: round(v, 4) for k, v in sample_metrics(votes).items()},
        }
    if budgets:
        out["budgets"] = curve([[BudgetGrade(**b) for b in it["budgets"]] for it in items], budgets)
    for key in ("subject", "level"):
        if any(it[key] is not None for it in items):
            out[f"by_{key}"] = breakdown(items, key)
    return out


def breakdown(items: list[dict], key: str) -> dict[str, dict[str, float]]:
    """Greedy accuracy and sampled pass@1 per subject or level."""
    groups: dict[str, list[dict]] = defaultdict(list)
    for it in items:
        groups[str(it[key])].append(it)
    out = {}
    for name, group in sorted(groups.items()):
        samples = [s["correct"] for it in group for s in it["samples"]]
        out[name] = {"n": len(group), "greedy": round(sum(it["greedy"]["correct"] for it in group) / len(group), 4)}
        if samples:
            out[name]["pass@1"] = round(sum(samples) / len(samples), 4)
    return out
