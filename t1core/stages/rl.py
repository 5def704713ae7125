"""Stage `rl`: models/sft/final -> T1 RL rounds -> models/rl/{checkpoints/round_XX, final} and metrics/rl.json.

The SFT model is evaluated first with the same evaluator (`start`), so metrics/rl.json
carries its own before/after comparison on identical held-out items.
"""

import time
from pathlib import Path
from typing import Any

from t1core.config import Params
from t1core.data.jsonl import model_parser, read_jsonl, write_json
from t1core.data.records import DataError, Problem
from t1core.eval.accuracy import GREEDY_KEY, SAMPLED_KEY
from t1core.eval.heldout import heldout_evaluator
from t1core.grading import Grader
from t1core.models.checkpoint import latest_checkpoint
from t1core.models.engine import full_weights, init_distributed, make_engine, make_optimizer, make_reference
from t1core.models.factory import load_pretrained, save_pretrained
from t1core.rl.trainer import RLState, RLTrainer
from t1core.rollout import make_rollout_engine
from t1core.stages.common import write_stage_metrics
from t1core.tracking.mlflow_run import StageRun

SUMMARY_LAST = 10  # steps averaged for the end-of-run training summary


def run(params: Params) -> dict:
    started = time.monotonic()
    cfg, paths = params.rl, params.paths
    prompts = list(read_jsonl(Path(paths.curated_dir) / "rl.jsonl", model_parser(Problem)))
    heldout = list(read_jsonl(Path(paths.curated_dir) / "heldout.jsonl", model_parser(Problem)))
    start_dir = Path(paths.models_dir) / "sft" / "final"
    if not (start_dir / "config.json").is_file():
        raise DataError(str(start_dir / "config.json"), 0, None, "no SFT model to start RL from (run `t1 sft` first)")
    rank, world = init_distributed(params.deepspeed.backend)
    out_dir = Path(paths.models_dir) / "rl"
    resume_from = latest_checkpoint(out_dir / "checkpoints", "round_") if cfg.resume else None
    policy, tokenizer = load_pretrained(start_dir, params.model)
    reference, _ = load_pretrained(start_dir, params.model)
    optimizer = make_optimizer(policy.parameters(), cfg.lr, 0.0, params.deepspeed)
    engine = make_engine(policy, optimizer, None, params.deepspeed, cfg.grad_clip, params.model.dtype)
    reference = make_reference(reference, params.deepspeed, params.model.dtype)  # ZeRO-3: partitioned like the policy
    with StageRun(params, "rl", enabled=rank == 0) as tracking, Grader.from_config(params.grading) as grader:
        rollout = make_rollout_engine(cfg.rollout_engine, tokenizer)
        evaluate = heldout_evaluator(params, tokenizer, rollout, heldout, grader, cfg.eval_limit)
        trainer = RLTrainer(
            engine, reference, tokenizer, prompts, cfg, grader, rollout,
            params.seed, out_dir / "checkpoints", evaluate=evaluate,
            on_step=lambda step, m: tracking.log_metrics(m, step),
        )
        with full_weights(engine.module):  # ZeRO-3: every rank gathers, rank 0 evaluates
            start = evaluate(engine.module, True) if rank == 0 else {}  # the SFT model, same items, same evaluator
            quick = evaluate(engine.module, False) if rank == 0 and resume_from is None else {}
        if resume_from is not None:
            trainer.resume(resume_from)
        else:
            trainer.state.rounds.append({"round": 0, "step": 0, "minutes": 0.0, **quick})
        state = trainer.train()
        with full_weights(engine.module):
            final = evaluate(engine.module, True) if rank == 0 else {}
            if rank == 0:
                save_pretrained(engine.module, tokenizer, out_dir / "final")
        if rank != 0:
            return {}
        metrics = {**_metrics(params, state, start, final, len(prompts)), "world_size": world}
        tracking.log_metrics({k: v for k, v in metrics.items() if isinstance(v, (int, float))})
        _write_reports(params, state, tracking)
    write_stage_metrics(params, "rl", metrics, started)
    return metrics


def _metrics(params: Params, state: RLState, start: dict, final: dict, n_prompts: int) -> dict[str, Any]:
    last = state.history[-SUMMARY_LAST:]
    summary = {k: round(sum(h[k] for h in last) / len(last), 4) for k in last[0]} if last else {}
    return {
        **final,
        "start": {k: start[k] for k in (GREEDY_KEY, SAMPLED_KEY, "by_family_greedy")},
        "delta_greedy": round(final[GREEDY_KEY] - start[GREEDY_KEY], 4),
        "delta_pass1_t1": round(final[SAMPLED_KEY] - start[SAMPLED_KEY], 4),
        "rounds": [{k: v for k, v in r.items() if not isinstance(v, dict)} for r in state.rounds],
        "steps": state.step,
        "train_minutes": round(state.train_seconds / 60, 3),
        "prompts_seen": state.epoch * n_prompts + state.cursor,
        "n_prompts": n_prompts,
        "last_steps_mean": summary,
        "k": params.rl.k, "temperature": params.rl.temperature,
    }


def _write_reports(params: Params, state: RLState, tracking: StageRun) -> None:
    """Flat rows for `dvc plots`: the per-round held-out curve and the per-step training curve."""
    reports = Path(params.paths.reports_dir)
    rounds = [{k: r[k] for k in ("round", "step", "minutes", GREEDY_KEY) if k in r} for r in state.rounds]
    keys = ("accuracy", "reward_mean", "kl", "entropy", "response_len", "zero_variance_fraction")
    steps = [{"step": i + 1, **{k: h[k] for k in keys}} for i, h in enumerate(state.history)]
    for name, rows in (("rl_curve.json", rounds), ("rl_steps.json", steps)):
        write_json(reports / name, rows)
        tracking.log_artifact(reports / name)
