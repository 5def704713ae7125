"""One RL step of t1 against TRL's GRPOTrainer: same model, prompts, K, batch and max length (issue #8).

    make bench-env                                   # TRL + datasets into .cache/trl-site (benchmark env only)
    PYTHONPATH=.cache/trl-site python bench/rl_vs_trl.py [--steps 4] [--out bench/results/rl_vs_trl.json]
    PYTHONPATH=.cache/trl-site python bench/rl_vs_trl.py --trl-curve-minutes 13 --out bench/results/learning_trl.json
    python bench/rl_vs_trl.py --out bench/results/learning_trl.json --plot docs/img/learning_t1_vs_trl.png

Both sides start from `models/sft/final` (run `make run` first) on the curated RL prompts
(`data/curated/rl.jsonl`; TRL takes them in file order, t1 in its seeded per-epoch shuffle, so
the prompts of a step differ: compare the mean response lengths reported with the times),
with B = 16 prompts x K = 8 samples at temperature 1.2,
at most 448 new tokens, lr 5e-5, fp32, the same 2 torch threads. Each side runs in its own
process (separate peak RSS) with its own recommended loss:
- t1: the T1 objective of params.yaml (RLOO on KL-shaped rewards, entropy bonus, EMA anchor,
  penalties), rollouts from the lean KV-cache sampler;
- TRL 1.13: GRPOTrainer defaults (DAPO token-level loss, beta = 0, group-scaled rewards),
  rollouts from transformers `generate` (TRL's path without vLLM).
Rewards on both sides come from t1's grader. A step is one optimizer update over 128
sampled responses, including sampling and grading; the first step is reported apart
(warm-up) and the rest summarised by median, min and max.

t1 runs three times: as params.yaml has it (`t1`: groups whose K rewards are all equal are dropped and
refilled by sampling more prompts, up to two more sampling calls a step), with over-sampling
(`t1-oversample`: `rl.oversample=true`, each call draws extra prompts for the uniform-group rate seen so
far, DAPO's dynamic sampling), and sampling exactly what
TRL samples (`t1-all-groups`: `rl.drop_uniform_groups=false`, every one of the 16 groups trained,
the uniform ones with zero advantage, as in GRPO). The second is the like-for-like step.
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

B, K, TEMPERATURE, MAX_NEW, LR = 16, 8, 1.2, 448, 5e-5
T1_SIDES = {  # t1's sides: their overrides of params.yaml
    "t1": [],
    "t1-oversample": ["rl.oversample=true"],  # dropped groups replaced by over-sampling each call (DAPO), then refills
    "t1-all-groups": ["rl.drop_uniform_groups=false"],  # TRL's sampling: every group trained
}
SIDES = (*T1_SIDES, "trl")


def _problems(n: int):
    from t1core.data.jsonl import model_parser, read_jsonl
    from t1core.data.records import Problem

    rows = read_jsonl(Path("data/curated/rl.jsonl"), model_parser(Problem))
    return [p for _, p in zip(range(n), rows)]


def run_t1(steps: int, overrides: list[str]) -> dict:
    import torch

    from t1core.config import load_params
    from t1core.grading import Grader
    from t1core.models.engine import make_engine, make_optimizer
    from t1core.models.factory import load_pretrained
    from t1core.rl.trainer import RLTrainer
    from t1core.rollout import make_rollout_engine

    params = load_params("params.yaml", overrides=[f"rl.prompts_per_step={B}", f"rl.k={K}", f"rl.temperature={TEMPERATURE}",
                                                   f"rl.max_new_tokens={MAX_NEW}", f"rl.lr={LR}", "tracking.enabled=false",
                                                   *overrides])
    cfg = params.rl
    policy, tok = load_pretrained("models/sft/final", params.model)
    reference, _ = load_pretrained("models/sft/final", params.model)
    optimizer = make_optimizer(policy.parameters(), cfg.lr, 0.0, params.deepspeed)
    engine = make_engine(policy, optimizer, None, params.deepspeed, cfg.grad_clip, params.model.dtype)
    with Grader.from_config(params.grading) as grader, tempfile.TemporaryDirectory() as tmp:
        trainer = RLTrainer(engine, reference, tok, _problems(B * steps * 3), cfg, grader,
                            make_rollout_engine(cfg.rollout_engine, tok), params.seed, Path(tmp))
        rows = []
        for _ in range(steps):
            m = trainer.step()
            rows.append({k: m[k] for k in ("step_s", "rollout_s", "grade_s", "ref_s", "update_s", "response_len", "accuracy",
                                           "zero_variance_fraction", "prompts_sampled", "sampling_calls")})
    return {"steps": rows}


def _trl_trainer(problems, max_steps: int, callbacks: list, tmp: str, grader):
    """TRL's GRPOTrainer on the SFT model at the shared settings, rewarded by t1's grader; (trainer, params, tokenizer)."""
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    from t1core.config import load_params
    from t1core.models.factory import load_pretrained

    params = load_params("params.yaml")
    model, tok = load_pretrained("models/sft/final", params.model)
    data = Dataset.from_list([{"prompt": [{"role": "user", "content": p.problem}], "answer": p.answer or ""} for p in problems])

    def correctness(completions, answer, **_):
        return [float(grader(c[0]["content"], a).correct) for c, a in zip(completions, answer)]

    args = GRPOConfig(
        output_dir=tmp, per_device_train_batch_size=B * K // 4, gradient_accumulation_steps=4, num_generations=K,
        max_completion_length=MAX_NEW, temperature=TEMPERATURE, learning_rate=LR, max_steps=max_steps,
        logging_steps=1, report_to="none", save_strategy="no", use_cpu=True, seed=params.seed, bf16=False,
        dataloader_num_workers=0, shuffle_dataset=False,
    )
    trainer = GRPOTrainer(model=model, reward_funcs=correctness, args=args, train_dataset=data, processing_class=tok,
                          callbacks=callbacks)
    return trainer, params, tok


def _clock():
    """A TrainerCallback that adds up the time spent inside training steps (evaluations excluded)."""
    from transformers import TrainerCallback

    class StepClock(TrainerCallback):
        def __init__(self):
            self.steps: list[float] = []
            self._t0 = 0.0

        def on_step_begin(self, *args, **kwargs):
            self._t0 = time.monotonic()

        def on_step_end(self, *args, **kwargs):
            self.steps.append(time.monotonic() - self._t0)

    return StepClock()


def run_trl(steps: int) -> dict:
    import torch

    from t1core.config import load_params
    from t1core.grading import Grader

    clock = _clock()
    with Grader.from_config(load_params("params.yaml").grading) as grader, tempfile.TemporaryDirectory() as tmp:
        trainer, _, _ = _trl_trainer(_problems(B * steps), steps, [clock], tmp, grader)
        trainer.train()
    logs = [h for h in trainer.state.log_history if "loss" in h]
    return {"steps": [{"step_s": t, "response_len": h.get("completions/mean_length"), "accuracy": h.get("reward")}
                      for t, h in zip(clock.steps, logs)], "torch_threads": torch.get_num_threads()}


def run_trl_curve(minutes: float, eval_every: int) -> dict:
    """Held-out greedy accuracy of TRL's GRPO against training minutes, with the evaluator t1's RL rounds use."""
    from t1core.config import load_params
    from t1core.data.jsonl import model_parser, read_jsonl
    from t1core.data.records import Problem
    from t1core.eval.accuracy import GREEDY_KEY
    from t1core.eval.heldout import heldout_evaluator
    from t1core.grading import Grader
    from t1core.rollout import make_rollout_engine

    heldout = list(read_jsonl(Path("data/curated/heldout.jsonl"), model_parser(Problem)))
    clock, curve = _clock(), []
    params = load_params("params.yaml")
    with Grader.from_config(params.grading) as grader, tempfile.TemporaryDirectory() as tmp:
        trainer, params, tok = _trl_trainer(_problems(10**6), 10**6, [clock], tmp, grader)
        evaluate = heldout_evaluator(params, tok, make_rollout_engine(params.rl.rollout_engine, tok), heldout, grader,
                                     params.rl.eval_limit)

        def point() -> bool:
            minutes_done = sum(clock.steps) / 60
            curve.append({"step": len(clock.steps), "minutes": round(minutes_done, 3), **evaluate(trainer.model, False)})
            print(f"trl step {len(clock.steps)}, {minutes_done:.1f} min: {curve[-1][GREEDY_KEY]:.3f}", file=sys.stderr)
            return minutes_done >= minutes

        from transformers import TrainerCallback

        class EvalAndStop(TrainerCallback):
            def on_step_end(self, args, state, control, **kwargs):
                if len(clock.steps) % eval_every == 0 and point():
                    control.should_training_stop = True

        trainer.add_callback(EvalAndStop())
        point()
        trainer.train()
    return {"curve": curve}


def plot(trl_json: Path, t1_curve: Path, png: Path) -> None:
    """Held-out greedy accuracy against training minutes: t1's RL rounds (`make run`) and TRL's curve."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t1 = json.loads(t1_curve.read_text())
    trl = json.loads(trl_json.read_text())["curve"]
    fig, ax = plt.subplots(figsize=(6, 4))
    for rows, label in ((t1, "t1 (T1 recipe, make run)"), (trl, "TRL 1.13 GRPOTrainer (defaults)")):
        ax.plot([r["minutes"] for r in rows], [100 * r["heldout_accuracy_greedy"] for r in rows], marker="o", label=label)
    ax.set_xlabel("training minutes (2 CPU cores; evaluations excluded)")
    ax.set_ylabel("held-out greedy accuracy, 100 items (%)")
    ax.set_title("RL from the same SFT model: learning per CPU-minute")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=120)


def summary(rows: list[dict]) -> dict:
    times = [r["step_s"] for r in rows[1:]] or [rows[0]["step_s"]]
    return {"first_step_s": round(rows[0]["step_s"], 2), "median_step_s": round(statistics.median(times), 2),
            "min_step_s": round(min(times), 2), "max_step_s": round(max(times), 2), "n_timed": len(times)}


def child(side: str, steps: int) -> None:
    out = run_trl(steps) if side == "trl" else run_t1(steps, T1_SIDES[side])
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print("RESULT " + json.dumps(out))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--out", default="bench/results/rl_vs_trl.json")
    ap.add_argument("--trl-curve-minutes", type=float, help="instead: TRL's held-out curve for this many training minutes")
    ap.add_argument("--eval-every", type=int, default=8, help="TRL steps between held-out evaluations (curve mode)")
    ap.add_argument("--plot", metavar="PNG", help="instead: plot --out (a TRL curve) against reports/rl_curve.json")
    ap.add_argument("--sides", nargs="+", choices=SIDES, default=list(SIDES), help="step-time mode: which sides run")
    ap.add_argument("--side", choices=SIDES, help=argparse.SUPPRESS)  # internal: one side per process
    a = ap.parse_args()
    if a.side:
        child(a.side, a.steps)
        return
    if a.plot:
        plot(Path(a.out), Path("reports/rl_curve.json"), Path(a.plot))
        return
    if a.trl_curve_minutes:
        out = {"minutes": a.trl_curve_minutes, **run_trl_curve(a.trl_curve_minutes, a.eval_every)}
        Path(a.out).write_text(json.dumps(out, indent=2) + "\n")
        return
    report = {"config": {"prompts_per_step": B, "k": K, "temperature": TEMPERATURE, "max_new_tokens": MAX_NEW, "lr": LR,
                         "steps": a.steps, "cores": os.cpu_count()}}
    for side in a.sides:
        t0 = time.monotonic()
        res = subprocess.run([sys.executable, __file__, "--side", side, "--steps", str(a.steps)], capture_output=True, text=True)
        line = next((l for l in res.stdout.splitlines() if l.startswith("RESULT ")), None)
        if res.returncode != 0 or line is None:
            raise SystemExit(f"{side} failed ({res.returncode}):\n{res.stderr[-4000:]}")
        report[side] = {**json.loads(line[len("RESULT "):]), "wall_s": round(time.monotonic() - t0, 1)}
        report[side]["summary"] = summary(report[side]["steps"])
        print(side, json.dumps(report[side]["summary"]), "peak RSS", report[side]["peak_rss_mb"], "MB", flush=True)
    for side, key in (("t1", "speedup_median"), ("t1-oversample", "speedup_oversample_median"),
                      ("t1-all-groups", "speedup_all_groups_median")):
        if "trl" in report and side in report:
            report[key] = round(report["trl"]["summary"]["median_step_s"] / report[side]["summary"]["median_step_s"], 2)
            print(side, "is", report[key], "x faster per step (median)")
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
