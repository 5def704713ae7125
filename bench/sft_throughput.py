"""SFT training throughput on the embedded default, as a share of the matmul peak (issue #8).

    python bench/sft_throughput.py [--runs 5] [--steps 20] [--out bench/results/sft_throughput.json]

Run after `make run` (it reads `data/synth/sft.jsonl` and the tokenizer of `models/sft/final`), alone
on the machine. The model is a fresh embedded-default Llama (params.yaml `model`, the SFT stage's own
`build_tiny`), trained by the SFT stage's own trainer step on its DeepSpeed engine: length-bucketed
batches of `sft.batch_tokens`, AdamW, gradient clipping. Each run times `--steps` optimizer steps after
two warm-up steps, right after its own matmul-peak measurement (the peak drifts by +-15 % on this
machine); the report gives the median, min and max over the runs, and the share of the peak per run.

Model FLOPs per trained token = 3 x forward (forward + backward): 6 x the dense matrix parameters
(lm_head included) + 12 x layers x hidden x mean causal context. Only real tokens count (padding
does the work but not the learning); the padded rate is reported beside it. The GEMM bound is the
rate of the model's own forward matmul shapes at one batch's rows, each timed alone.
"""

import argparse
import time
from pathlib import Path

import torch

from common import emit, gemm_bound_gflops, llama_gemms, machine, matmul_peak_gflops, stats
from t1core.config import load_params
from t1core.data.jsonl import model_parser, read_jsonl
from t1core.models.engine import make_engine, make_optimizer
from t1core.models.factory import build_tiny
from t1core.sft.data import encode_traces
from t1core.sft.trainer import SFTTrainer
from t1core.synth.schema import Trace


def flops_per_token(model, mean_context: float) -> float:
    c = model.config
    dense = sum(p.numel() for p in model.parameters() if p.dim() == 2)  # tied embedding counted once, as lm_head
    return 6 * dense + 12 * c.num_hidden_layers * c.hidden_size * mean_context


def trainer(params_path: str, tmp: Path) -> SFTTrainer:
    from transformers import AutoTokenizer

    params = load_params(params_path, overrides=["tracking.enabled=false"])
    tok = AutoTokenizer.from_pretrained(Path(params.paths.models_dir) / "sft" / "final")
    traces = list(read_jsonl(Path(params.paths.synth_dir) / "sft.jsonl", model_parser(Trace)))
    examples, _ = encode_traces(tok, traces, params.model.max_seq_len)
    model = build_tiny(params.model, tok, params.seed)
    optimizer = make_optimizer(model.parameters(), params.sft.lr, params.sft.weight_decay, params.deepspeed)
    engine = make_engine(model, optimizer, None, params.deepspeed, params.sft.grad_clip, params.model.dtype)
    return SFTTrainer(engine, examples, params.sft, tok.pad_token_id, params.seed, tmp, tokenizer=tok, total=10**9)


def measure(params_path: str, runs: int, steps: int, tmp: Path) -> dict:
    t = trainer(params_path, tmp)
    batches = [b for e in range(100) for b in t._epoch_batches(e)]  # the stage's own order, as many as needed
    for b in batches[:2]:
        t.train_step(b)
    real, padded, seconds, contexts, peaks = [], [], [], [], []
    pos = 2
    for _ in range(runs):
        peaks.append(matmul_peak_gflops(torch.device("cpu"), torch.float32))  # beside each run: the machine drifts
        chunk, pos = batches[pos:pos + steps], pos + steps
        lens = [[len(t.examples[i].input_ids) for i in b] for b in chunk]
        t0 = time.perf_counter()
        for b in chunk:
            t.train_step(b)
        seconds.append(time.perf_counter() - t0)
        real.append(sum(sum(x) for x in lens))
        padded.append(sum(max(x) * len(x) for x in lens))
        contexts += [(n + 1) / 2 for x in lens for n in x for _ in range(n)]
    model = t.engine.module
    fpt = flops_per_token(model, sum(contexts) / len(contexts))
    peak = stats(peaks, 1)
    rate = stats([r / s for r, s in zip(real, seconds)], 0)
    gflops = rate["median"] * fpt / 1e9
    share = stats([r / s * fpt / 1e9 / pk for r, s, pk in zip(real, seconds, peaks)])
    rows_per_batch = int(sum(padded) / (runs * steps))
    bound = gemm_bound_gflops(llama_gemms(model.config, rows_per_batch), torch.device("cpu"), torch.float32)
    return {
        **machine(), "runs": runs, "steps_per_run": steps, "batch_tokens": t.cfg.batch_tokens,
        "model_params": sum(p.numel() for p in model.parameters()), "flops_per_token": round(fpt),
        "tokens_per_s": rate, "padded_tokens_per_s": stats([p / s for p, s in zip(padded, seconds)], 0),
        "step_s": stats([s / steps for s in seconds]), "matmul_peak_gflops": peak,
        "model_gflops": round(gflops, 1), "share_of_peak": share["median"], "share_of_peak_runs": share,
        "gemm_bound_gflops": bound["gflops"], "gemm_bound_share_of_peak": round(bound["gflops"] / peak["median"], 3),
    }


def main() -> None:
    import tempfile

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--steps", type=int, default=20, help="optimizer steps per timed run")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        report = measure(args.params, args.runs, args.steps, Path(tmp))
    emit(report, args.out)


if __name__ == "__main__":
    main()
