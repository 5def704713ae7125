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

The kernel ceiling is the fastest the step could be if every op but two ran free: the training matmuls
(forward, input gradient and weight gradient of every projection and the lm_head, each shape timed alone)
and attention's forward and backward (`scaled_dot_product_attention`, causal, at the median batch's
sequences x padded width), one after the other, timed right after each run against that run's peak. The rest of the measured step (norms, RoPE, SiLU,
residuals, the loss, the optimizer, dispatch) is what a 50 % share would have to squeeze into what is left.
"""

import argparse
import statistics
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

from common import (emit, gemm_bound_gflops, llama_gemms, machine, matmul_peak_gflops, read_bandwidth_gbs, seconds_per_call,
                    stats)
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


def training_gemm_seconds(cfg, rows: int) -> float:
    """Seconds of one training step's matmuls at `rows` tokens, each distinct shape timed alone: per projection
    (m, k, n) the forward x @ w, the input gradient dy @ w.T and the weight gradient x.T @ dy."""
    cpu = torch.device("cpu")
    total = 0.0
    for (m, k, n), count in Counter(llama_gemms(cfg, rows)).items():
        x, w, dy = torch.randn(m, k), torch.randn(k, n), torch.randn(m, n)
        per = sum(seconds_per_call(f, cpu) for f in (lambda: x @ w, lambda: dy @ w.t(), lambda: x.t() @ dy))
        total += count * per
    return total


def attention_seconds(cfg, sequences: int, width: int) -> float:
    """Seconds of attention's forward and backward for every layer on `sequences` rows of `width` tokens
    (causal `scaled_dot_product_attention`, the SFT model's kernel, timed alone)."""
    hd = cfg.hidden_size // cfg.num_attention_heads
    q, k, v = (torch.randn(sequences, cfg.num_attention_heads, width, hd, requires_grad=True) for _ in range(3))
    grad = torch.randn(sequences, cfg.num_attention_heads, width, hd)

    def fwd_bwd():
        torch.autograd.grad(F.scaled_dot_product_attention(q, k, v, is_causal=True), (q, k, v), grad)

    return seconds_per_call(fwd_bwd, torch.device("cpu")) * cfg.num_hidden_layers


def saved_activation_bytes(step: Callable[[], object], module: torch.nn.Module) -> int:
    """Bytes of the distinct non-parameter tensors autograd saves for backward in one `step()` of `module`:
    written by the forward and read by the backward, they are traffic no fusion of the element-wise ops can avoid."""
    params = {p.data_ptr() for p in module.parameters()}
    seen: dict[int, int] = {}

    def pack(x: torch.Tensor) -> torch.Tensor:
        if x.data_ptr() not in params:
            seen[x.data_ptr()] = max(seen.get(x.data_ptr(), 0), x.untyped_storage().nbytes())
        return x

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda x: x):
        step()
    return sum(seen.values())


def kernel_seconds(cfg, shapes: list[tuple[int, int]]) -> dict:
    """The two kernels a step cannot skip, timed alone at the median of `shapes` (sequences, padded width):
    the training matmuls at that many rows, and attention's forward and backward."""
    sequences = round(statistics.median(n for n, _ in shapes))
    width = round(statistics.median(w for _, w in shapes))
    return {"sequences": sequences, "width": width,
            "gemm_s": training_gemm_seconds(cfg, round(statistics.median(n * w for n, w in shapes))),
            "attention_s": attention_seconds(cfg, sequences, width)}


def kernel_ceiling(runs: list[dict], fpt: float, saved_bytes: int) -> dict:
    """Per timed run (its step, peak, real tokens a step and `kernel_seconds` measured right after it): the step
    with only the matmuls and attention left, as a share of that run's peak, and `rest_ms_at_target`: what
    everything else may cost for the step to reach 50 % of the peak. `saved_traffic_ms`: the floor of that
    rest, writing and reading the saved activations once at a streaming read's rate over their footprint."""
    def col(f, digits: int = 1) -> dict:
        return stats([f(r) for r in runs], digits)

    def target(r: dict) -> float:  # seconds a step may take at 50 % of that run's peak
        return r["real_per_step"] * fpt / (0.5 * r["peak"] * 1e9)

    stream = read_bandwidth_gbs(saved_bytes, torch.device("cpu"))
    return {"sequences": round(statistics.median(r["sequences"] for r in runs)),
            "width": round(statistics.median(r["width"] for r in runs)),
            "gemm_ms": col(lambda r: 1e3 * r["gemm_s"]), "attention_ms": col(lambda r: 1e3 * r["attention_s"]),
            "step_ms": col(lambda r: 1e3 * r["step_s"]), "rest_ms": col(lambda r: 1e3 * (r["step_s"] - r["gemm_s"] - r["attention_s"])),
            "share_of_peak": col(lambda r: r["real_per_step"] / (r["gemm_s"] + r["attention_s"]) * fpt / 1e9 / r["peak"], 3),
            "target_step_ms": col(lambda r: 1e3 * target(r)),
            "rest_ms_at_target": col(lambda r: 1e3 * (target(r) - r["gemm_s"] - r["attention_s"])),
            "saved_activation_mb": round(saved_bytes / 1e6, 1), "stream_read_gbs": round(stream, 1),
            "saved_traffic_ms": round(2 * saved_bytes / (stream * 1e9) * 1e3, 1)}


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
    model = t.engine.module
    batches = [b for e in range(100) for b in t._epoch_batches(e)]  # the stage's own order, as many as needed
    for b in batches[:2]:
        t.train_step(b)
    real, padded, seconds, contexts, peaks, kernels = [], [], [], [], [], []
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
        kernels.append({**kernel_seconds(model.config, [(len(x), max(x)) for x in lens]), "peak": peaks[-1],
                        "step_s": seconds[-1] / steps, "real_per_step": real[-1] / steps})
        contexts += [(n + 1) / 2 for x in lens for n in x for _ in range(n)]
    fpt = flops_per_token(model, sum(contexts) / len(contexts))
    peak = stats(peaks, 1)
    rate = stats([r / s for r, s in zip(real, seconds)], 0)
    gflops = rate["median"] * fpt / 1e9
    share = stats([r / s * fpt / 1e9 / pk for r, s, pk in zip(real, seconds, peaks)])
    rows_per_batch = int(sum(padded) / (runs * steps))
    bound = gemm_bound_gflops(llama_gemms(model.config, rows_per_batch), torch.device("cpu"), torch.float32)
    step = stats([s / steps for s in seconds])
    ceiling = kernel_ceiling(kernels, fpt, saved_activation_bytes(lambda: t.train_step(batches[pos]), model))
    return {
        **machine(), "runs": runs, "steps_per_run": steps, "batch_tokens": t.cfg.batch_tokens,
        "model_params": sum(p.numel() for p in model.parameters()), "flops_per_token": round(fpt),
        "tokens_per_s": rate, "padded_tokens_per_s": stats([p / s for p, s in zip(padded, seconds)], 0),
        "step_s": step, "matmul_peak_gflops": peak,
        "model_gflops": round(gflops, 1), "share_of_peak": share["median"], "share_of_peak_runs": share,
        "gemm_bound_gflops": bound["gflops"], "gemm_bound_share_of_peak": round(bound["gflops"] / peak["median"], 3),
        "kernel_ceiling": ceiling,
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
