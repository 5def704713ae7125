"""Stage `evaluate`: the SFT model and RL round checkpoints on the held-out set.

Scores models/sft/final and the RL rounds nearest `eval.rl_fractions` of the rounds
run (30/60/90/100 % by default) with one evaluator: greedy, `eval.n_samples` samples
at `eval.temperature`, and the inference-scaling curve over `eval.budgets`. Writes
reports/eval/<checkpoint>/{report.json,items.jsonl}, reports/scaling/<checkpoint>.json (dvc plots),
reports/scaling.png and metrics/eval.json; each checkpoint gets its own MLflow run.
`evaluate_file` is the same evaluator on any model and any JSONL (`t1 eval --model`).
"""

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tqdm import tqdm

from t1core.config import Params
from t1core.data.formats import load_eval_set
from t1core.data.jsonl import write_json
from t1core.data.records import DataError, Problem
from t1core.eval.evaluator import EvalResult, evaluate_model
from t1core.eval.report import plot_scaling, scaling_rows, write_result
from t1core.grading import Grader
from t1core.models.checkpoint import checkpoint_problem, complete_checkpoints
from t1core.models.factory import load_pretrained
from t1core.rollout import make_rollout_engine
from t1core.stages.common import write_stage_metrics
from t1core.tracking.mlflow_run import StageRun


def run(params: Params) -> dict:
    started = time.monotonic()
    heldout_path = Path(params.paths.curated_dir) / "heldout.jsonl"
    _, problems = load_eval_set(heldout_path, "problem", limit=params.eval.limit)
    results: dict[str, dict] = {}
    curves: dict[str, list[dict]] = {}
    reports = Path(params.paths.reports_dir)
    for stale in (reports / "eval", reports / "scaling"):  # checkpoints of an earlier run must not linger
        shutil.rmtree(stale, ignore_errors=True)
    for name, path, info in tqdm(checkpoints(params), desc="evaluate", unit="model"):
        result = evaluate_path(params, path, problems)
        meta = {"checkpoint": name, "model_path": str(path), "data": str(heldout_path), **info}
        written = write_result(result, reports / "eval" / name, meta)
        results[name] = {**info, **summary(result.report)}
        curves[name] = result.report.get("budgets", [])
        _track(params, name, results[name], written)
    metrics = {"checkpoints": results, "budgets": params.eval.budgets, **scaling_summary(results, curves)}
    for name in curves:  # one file per checkpoint: `dvc plots` draws each file as its own line
        write_json(reports / "scaling" / f"{name}.json", scaling_rows({name: curves[name]}))
    plot_scaling(curves, reports / "scaling.png", "Inference scaling on the held-out set")
    path = write_stage_metrics(params, "eval", metrics, started)
    _track(params, "evaluate", {k: v for k, v in metrics.items() if k != "checkpoints"}, (path, reports / "scaling.png"))
    return metrics


def checkpoints(params: Params) -> list[tuple[str, Path, dict[str, Any]]]:
    """(name, HF model dir, info): the SFT model, then the picked RL rounds (none if RL has not run)."""
    models = Path(params.paths.models_dir)
    sft = models / "sft" / "final"
    if not (sft / "config.json").is_file():
        raise DataError(str(sft / "config.json"), 0, None, "no SFT model to evaluate (run `t1 sft` first)")
    rounds = complete_checkpoints(models / "rl" / "checkpoints", "round_")
    picked = [("sft", sft, {})]
    for r in pick_rounds(len(rounds), params.eval.rl_fractions):
        if (problem := checkpoint_problem(rounds[r - 1])) is not None:
            raise DataError(str(rounds[r - 1]), 0, None, f"corrupt RL round checkpoint ({problem}); rerun `t1 rl`")
        share = r / len(rounds)
        picked.append((f"rl_{round(100 * share)}pct", rounds[r - 1] / "hf", {"round": r, "fraction": round(share, 3)}))
    return picked


def pick_rounds(n_rounds: int, fractions: list[float]) -> list[int]:
    """The 1-based rounds nearest each fraction of the n_rounds run, each once, in order."""
    picked = [min(n_rounds, max(1, round(f * n_rounds))) for f in fractions] if n_rounds else []
    return sorted(set(picked))


def evaluate_path(params: Params, model_dir: Path, problems: list[Problem]) -> EvalResult:
    model, tokenizer = load_pretrained(model_dir, params.model)
    engine = make_rollout_engine(params.rl.rollout_engine, tokenizer)
    with Grader.from_config(params.grading) as grader:
        return evaluate_model(model, tokenizer, engine, problems, grader, params.eval, params.rl, params.seed)


def evaluate_file(
    params: Params, model_dir: Path, data: Path, out_dir: Path, fmt: str = "auto", problem_field: str | None = None,
    answer_field: str | None = None,
) -> dict[str, Any]:
    """`t1 eval --model DIR --data FILE`: any model, any supported JSONL, the stage's evaluator and eval.* settings."""
    if not (model_dir / "config.json").is_file():
        raise DataError(str(model_dir / "config.json"), 0, None, "not a model directory (no config.json)")
    found, problems = load_eval_set(data, fmt, problem_field, answer_field, limit=params.eval.limit)
    result = evaluate_path(params, model_dir, problems)
    meta = {"model_path": str(model_dir), "data": str(data), "format": found}
    report_path, items_path = write_result(result, out_dir, meta)
    if result.report.get("budgets"):
        plot_scaling({model_dir.name: result.report["budgets"]}, out_dir / "scaling.png", f"{model_dir.name} on {data.name}")
    return {"report": str(report_path), "items": str(items_path), **summary(result.report)}


def summary(report: dict[str, Any]) -> dict[str, Any]:
    """The headline numbers of one report (metrics files and MLflow)."""
    out = {"n": report["n"], "greedy_accuracy": report["greedy"]["accuracy"], "greedy_mean_tokens": report["greedy"]["mean_tokens"],
           "wait_rate": report["greedy"]["wait_rate"], "self_corrected_rate": report["greedy"]["self_corrected_rate"]}
    sampled = report.get("sampled")
    if sampled:
        out |= {k: v for k, v in sampled.items() if k.startswith(("pass@", "maj@"))}
        out |= {"sampled_mean_tokens": sampled["mean_tokens"], "sampled_penalty_rates": sampled["penalty_rates"]}
    if report.get("budgets"):
        out["budget_accuracy"] = {str(r["budget"]): r["accuracy"] for r in report["budgets"]}
    return out


def scaling_summary(results: dict[str, dict], curves: dict[str, list[dict]]) -> dict[str, Any]:
    """The claim to check: accuracy gained between the first budget at or above the SFT model's median
    greedy length and the largest budget, per checkpoint (a rise there is not a truncation artifact)."""
    sft_rows = curves.get("sft") or []
    if not sft_rows:
        return {}
    typical = results["sft"]["greedy_mean_tokens"]
    above = [r["budget"] for r in sft_rows if r["budget"] >= typical] or [sft_rows[-1]["budget"]]
    start = above[0]

    def acc(rows: list[dict], budget: int) -> float:
        return next(r["accuracy"] for r in rows if r["budget"] == budget)

    return {
        "sft_mean_greedy_tokens": typical,
        "budget_at_sft_length": start,
        "gain_above_sft_length": {name: round(acc(rows, rows[-1]["budget"]) - acc(rows, start), 4)
                                  for name, rows in curves.items() if rows},
    }


def _track(params: Params, name: str, numbers: dict[str, Any], artifacts: tuple[Path, ...]) -> None:
    with StageRun(params, name if name == "evaluate" else f"evaluate:{name}") as tracking:
        tracking.log_metrics(dict(_numeric(numbers)))
        for path in artifacts:
            tracking.log_artifact(path)


def _numeric(d: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, float]]:
    """The number leaves of a nested dict as ('a.b', value); MLflow names allow no '@' (pass@4 -> pass_at_4)."""
    for k, v in d.items():
        key = f"{prefix}{k}".replace("@", "_at_")
        if isinstance(v, dict):
            yield from _numeric(v, key + ".")
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            yield key, float(v)
