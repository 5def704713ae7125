"""Stage `sft`: validated traces -> tokenizer + model -> DeepSpeed SFT -> models/sft/final and metrics/sft.json."""

import time
from pathlib import Path
from typing import Any

import torch

from t1core.config import Params
from t1core.data.jsonl import model_parser, read_jsonl, write_json
from t1core.data.records import Problem
from t1core.eval.accuracy import GREEDY_KEY
from t1core.eval.heldout import heldout_evaluator
from t1core.grading import Grader
from t1core.models.engine import full_weights, init_distributed, make_engine, make_optimizer
from t1core.models.factory import build_tiny, load_pretrained, n_params, save_pretrained
from t1core.models.tokenizer import train_tokenizer
from t1core.rollout import make_rollout_engine
from t1core.sft.data import encode_traces
from t1core.sft.schedule import lr_multiplier
from t1core.models.checkpoint import latest_checkpoint
from t1core.sft.trainer import SFTTrainer, total_steps
from t1core.stages.common import write_stage_metrics
from t1core.synth.schema import Trace
from t1core.tracking.mlflow_run import StageRun


def run(params: Params) -> dict:
    started = time.monotonic()
    traces = list(read_jsonl(Path(params.paths.synth_dir) / "sft.jsonl", model_parser(Trace)))
    heldout = list(read_jsonl(Path(params.paths.curated_dir) / "heldout.jsonl", model_parser(Problem)))
    rank, world = init_distributed(params.deepspeed.backend)
    out_dir = Path(params.paths.models_dir) / "sft"
    resume_from = latest_checkpoint(out_dir / "checkpoints") if params.sft.resume else None
    model, tokenizer = _model_and_tokenizer(params, traces, resume_from)
    examples, too_long = encode_traces(tokenizer, traces, params.model.max_seq_len)
    if not examples:
        raise ValueError(f"no SFT examples fit model.max_seq_len={params.model.max_seq_len} ({too_long} too long)")
    trainer = _trainer(params, model, tokenizer, examples, out_dir, world)
    with StageRun(params, "sft", enabled=rank == 0) as tracking, Grader.from_config(params.grading) as grader:
        trainer.evaluate = heldout_evaluator(
            params, tokenizer, make_rollout_engine(params.rl.rollout_engine, tokenizer), heldout, grader, params.sft.eval_limit
        )
        trainer.on_step = lambda step, m: tracking.log_metrics(m, step) if step % 5 == 0 else None
        if resume_from is not None:
            trainer.resume(resume_from)
        trainer.train()
        trainer.warn_if_cut()
        final = trainer.final_eval()
        with full_weights(trainer.engine.module):  # ZeRO-3: every rank gathers, rank 0 saves
            if rank == 0:
                save_pretrained(trainer.engine.module, tokenizer, out_dir / "final")
        if rank != 0:
            return {}
        metrics = _metrics(trainer, final, examples, too_long)
        tracking.log_metrics({k: v for k, v in metrics.items() if isinstance(v, (int, float))})
        write_json(Path(params.paths.reports_dir) / "sft_curve.json", metrics["curve"])  # flat rows for `dvc plots`
        tracking.log_artifact(Path(params.paths.reports_dir) / "sft_curve.json")
    write_stage_metrics(params, "sft", metrics, started)
    return metrics


def _model_and_tokenizer(params: Params, traces: list[Trace], resume_from: Path | None) -> tuple[Any, Any]:
    cfg = params.model
    if cfg.kind == "hf":
        return load_pretrained(cfg.path, cfg)
    if resume_from is not None:  # the checkpoint's tokenizer, not a retrained one
        return load_pretrained(resume_from / "hf", cfg)
    tokenizer = train_tokenizer((f"{t.problem}\n{t.response}" for t in traces), cfg.vocab_size)
    return build_tiny(cfg, tokenizer, params.seed), tokenizer


def _trainer(params: Params, model: Any, tokenizer: Any, examples: list, out_dir: Path, world: int) -> SFTTrainer:
    cfg = params.sft
    total = total_steps(cfg, examples, params.seed, world)
    warmup = int(cfg.warmup_fraction * total)
    optimizer = make_optimizer(model.parameters(), cfg.lr, cfg.weight_decay, params.deepspeed)
    clock: list[SFTTrainer] = []  # the trainer, once built: its training seconds drive `anneal_within_cap`
    multiplier = lr_multiplier(total, warmup, cfg.min_lr_ratio, lambda: clock[0].cap_share() if clock else 0.0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, multiplier)
    engine = make_engine(model, optimizer, scheduler, params.deepspeed, cfg.grad_clip, params.model.dtype)
    clock.append(SFTTrainer(engine, examples, cfg, tokenizer.pad_token_id, params.seed, out_dir / "checkpoints", tokenizer=tokenizer, total=total))
    return clock[0]


def _metrics(trainer: SFTTrainer, final: dict, examples: list, too_long: int) -> dict:
    tokens, state, model = sum(len(e.input_ids) for e in examples), trainer.state, trainer.engine.module
    return {
        **{k: v for k, v in final.items() if k not in ("step", "minutes")},
        "steps": state.step,
        "planned_steps": trainer.total,
        "stopped_by_cap": trainer.stopped_by_cap(),
        "final_lr": trainer.engine.get_lr()[0],
        "epochs_completed": state.epoch,
        "train_minutes": round(state.train_seconds / 60, 3),
        "final_train_loss": round(sum(state.losses[-20:]) / max(1, len(state.losses[-20:])), 4),
        "n_examples": len(examples),
        "n_too_long": too_long,
        "tokens_per_epoch": tokens,
        "n_params": n_params(model),
        "world_size": trainer.world,
        "curve": [{k: e[k] for k in ("step", "minutes", GREEDY_KEY) if k in e} for e in state.evals],
    }
