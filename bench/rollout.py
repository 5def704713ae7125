"""Rollout throughput: the lean sampler vs HF `generate`, and the share of the device's matmul peak.

    python bench/rollout.py [--batch 64 256] [--new-tokens 256] [--prompt-len 24] [--runs 5] [--device cpu|cuda]
                            [--dtype float32|bfloat16] [--set model.hidden_size=2048 ...] [--out bench/results/rollout.json]

The model is the embedded default's architecture (params.yaml `model`, or another shape
through `--set model.*=...`), randomly initialised; EOS is disabled so every engine generates exactly batch x new-tokens
tokens and the work is identical. FLOPs per token = 2 x (parameters touched per token:
every matrix except the embedding lookup, lm_head included) + attention (4 x layers x
hidden x context, at the mean context of the run).
"""

import argparse
import statistics
import time

import torch
from transformers import LlamaConfig, LlamaForCausalLM

from common import emit, gemm_bound_gflops, machine, matmul_peak_gflops, read_bandwidth_gbs, seconds_per_call, stats
from t1core.config import load_params
from t1core.rollout.cpu_sampler import CPUSampler, decode_attention
from t1core.rollout.hf_engine import HFGenerateEngine

NO_EOS = -1  # never sampled: fixed-length generation


def build_model(params_path: str, overrides: list[str] | None = None) -> LlamaForCausalLM:
    m = load_params(params_path, overrides=overrides).model
    cfg = LlamaConfig(
        vocab_size=m.vocab_size, hidden_size=m.hidden_size, intermediate_size=m.intermediate_size,
        num_hidden_layers=m.num_layers, num_attention_heads=m.num_heads, num_key_value_heads=m.num_heads,
        max_position_embeddings=m.max_seq_len, tie_word_embeddings=True, pad_token_id=0, eos_token_id=1,
    )
    torch.manual_seed(0)
    model = LlamaForCausalLM(cfg).eval()
    model.generation_config.eos_token_id = None  # HF would otherwise stop on the config's EOS
    return model


def flops_per_token(model: LlamaForCausalLM, mean_context: float) -> float:
    c = model.config
    dense = sum(p.numel() for n, p in model.named_parameters() if p.dim() == 2)  # the tied embedding counts once, as lm_head
    return 2 * dense + 4 * c.num_hidden_layers * c.hidden_size * mean_context


def run_engine(engine, model, prompts, new_tokens: int) -> float:
    """Tokens per second of one generate call (after a short warm-up)."""
    engine.generate(model, prompts[:8], 8, temperature=1.0, seed=0)
    t0 = time.perf_counter()
    out = engine.generate(model, prompts, new_tokens, temperature=1.0, seed=1)
    dt = time.perf_counter() - t0
    assert sum(len(t) for t in out.tokens) == len(prompts) * new_tokens
    return len(prompts) * new_tokens / dt


def sampler_gemms(model: LlamaForCausalLM, rows: int) -> list[tuple[int, int, int]]:
    """The lean sampler's matmuls for one decode step of `rows` sequences: fused q/k/v/rot(q)/rot(k), o, fused
    gate/up, down per layer, then lm_head (t1core/rollout/cpu_sampler.py)."""
    c = model.config
    hd = c.hidden_size // c.num_attention_heads
    qkv = (2 * c.num_attention_heads + 3 * c.num_key_value_heads) * hd
    layer = [(rows, c.hidden_size, qkv), (rows, c.num_attention_heads * hd, c.hidden_size),
             (rows, c.hidden_size, 2 * c.intermediate_size), (rows, c.intermediate_size, c.hidden_size)]
    return layer * c.num_hidden_layers + [(rows, c.hidden_size, c.vocab_size)]


def attention_seconds(model: LlamaForCausalLM, rows: int, context: int, total: int, device: torch.device,
                      dtype: torch.dtype, min_seconds: float = 0.2) -> float:
    """Seconds one decode step spends in the sampler's own attention kernel (`decode_attention`: score and
    value products over the KV cache, mask, softmax) for every layer, timed alone in a tight loop on a cache
    laid out as the sampler's (`total` columns allocated, the first `context` read). Memory-bound: each
    call reads the layer's whole K and V slice."""
    c = model.config
    hd, nkv = c.hidden_size // c.num_attention_heads, c.num_key_value_heads
    kv = torch.randn(2, rows, nkv, total, hd, device=device, dtype=dtype)
    keys, values = kv[0, :, :, :context], kv[1, :, :, :context]
    q = torch.randn(rows, c.num_attention_heads, 1, hd, device=device, dtype=dtype)
    mask = torch.ones(rows, 1, 1, context, dtype=torch.bool, device=device)
    return seconds_per_call(lambda: decode_attention(q, keys, values, mask), device, min_seconds) * c.num_hidden_layers


def kernel_ceiling(model: LlamaForCausalLM, rows: int, prompt_len: int, new_tokens: int, device: torch.device,
                   dtype: torch.dtype, gemm_gflops: float) -> dict:
    """The fastest a decode step could be if every op but two ran free: the dense GEMMs at their measured
    shape bound plus attention at its measured rate (at the run's mean context), one after the other as the
    sampler runs them. Also attention's read rate over the KV cache against a plain streaming read of the
    cache's whole footprint (how far a better attention kernel could go)."""
    c = model.config
    context, total = prompt_len + new_tokens // 2, prompt_len + new_tokens
    flops = sum(2.0 * m * k * n for m, k, n in sampler_gemms(model, rows))
    gemm_s = flops / (gemm_gflops * 1e9)
    attn_s = attention_seconds(model, rows, context, total, device, dtype)
    elem = torch.tensor([], dtype=dtype).element_size()  # KV-cache bytes per value in the run's dtype
    per_ctx = 2 * c.num_hidden_layers * rows * c.num_key_value_heads * (c.hidden_size // c.num_attention_heads) * elem
    stream = read_bandwidth_gbs(per_ctx * total, device)
    return {"gemm_ms": round(gemm_s * 1e3, 3), "attention_ms": round(attn_s * 1e3, 3),
            "tokens_per_s": round(rows / (gemm_s + attn_s)),
            "attention_read_gbs": round(per_ctx * context / attn_s / 1e9, 1), "stream_read_gbs": round(stream, 1),
            "stream_tokens_per_s": round(rows / (gemm_s + per_ctx * context / (stream * 1e9)))}


def time_split(model: LlamaForCausalLM, batch: int, new_tokens: int, prompt_len: int) -> dict:
    """Where one sampler call's CPU time goes (torch.profiler, self time per op): the dense GEMMs
    (aten::mm/addmm), attention's batched score and value products (aten::bmm) and everything else
    (norms, RoPE, softmax, masking, cache writes, sampling, and the per-op dispatch of all of them).
    The profiler's own per-op cost inflates the many small ops, so "other" is an upper bound."""
    from torch.profiler import ProfilerActivity, profile

    prompts = torch.randint(2, model.config.vocab_size, (batch, prompt_len)).tolist()
    engine = CPUSampler(NO_EOS, 0, batch_size=batch)
    engine.generate(model, prompts[:8], 8, temperature=1.0, seed=0)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        engine.generate(model, prompts, new_tokens, temperature=1.0, seed=1)
    split = {"gemm": 0.0, "attention_bmm": 0.0, "other": 0.0}
    for ev in prof.key_averages():
        key = "gemm" if ev.key in ("aten::mm", "aten::addmm") else "attention_bmm" if ev.key == "aten::bmm" else "other"
        split[key] += ev.self_cpu_time_total / 1e6
    total = sum(split.values())
    return {"batch": batch, **{f"{k}_share": round(v / total, 3) for k, v in split.items()}, "profiled_s": round(total, 2)}


def vllm_status() -> str:
    """vLLM-on-CPU is benchmarked only where it is installed and t1 has an engine for it (issue #7: not yet)."""
    import importlib.util

    return "not installed" if importlib.util.find_spec("vllm") is None else "installed; t1 has no vLLM rollout engine yet"


def measure(params: str, batches: list[int], new_tokens: int, prompt_len: int, runs: int,
            device: torch.device, dtype: torch.dtype, overrides: list[str] | None = None) -> dict:
    """Tokens/s of each engine at each batch (`runs` calls each: median, min, max), against the square matmul
    peak and against the GEMM bound of the sampler's own decode shapes."""
    torch.manual_seed(0)
    model = build_model(params, overrides).to(device=device, dtype=dtype)
    fpt = flops_per_token(model, prompt_len + new_tokens / 2)
    rows, peaks = [], []
    for b in batches:
        prompts = torch.randint(2, model.config.vocab_size, (b, prompt_len)).tolist()
        cpu, hf, shares = [], [], []
        for _ in range(runs):  # each run beside its own peak measurement: the machine drifts by +-15 %
            peaks.append(matmul_peak_gflops(device, dtype))
            cpu.append(run_engine(CPUSampler(NO_EOS, 0, batch_size=b), model, prompts, new_tokens))
            hf.append(run_engine(HFGenerateEngine(NO_EOS, 0, batch_size=b), model, prompts, new_tokens))
            shares.append(cpu[-1] * fpt / 1e9 / peaks[-1])
        cpu, hf, share = stats(cpu, 0), stats(hf, 0), stats(shares)
        gflops = cpu["median"] * fpt / 1e9
        bound = gemm_bound_gflops(sampler_gemms(model, b), device, dtype)
        ceiling = kernel_ceiling(model, b, prompt_len, new_tokens, device, dtype, bound["gflops"])
        for key in ("", "stream_"):
            ceiling[f"{key}share_of_peak"] = round(ceiling[f"{key}tokens_per_s"] * fpt / 1e9 / statistics.median(peaks), 3)
        ceiling["sampler_fraction"] = round(cpu["median"] / ceiling["tokens_per_s"], 3)
        rows.append({
            "batch": b, "cpu_tokens_per_s": cpu, "hf_tokens_per_s": hf, "speedup": round(cpu["median"] / hf["median"], 2),
            "cpu_gflops": round(gflops, 1), "cpu_share_of_peak": share["median"], "cpu_share_of_peak_runs": share,
            "gemm_bound_gflops": bound["gflops"], "gemm_bound_share_of_peak": round(bound["gflops"] / statistics.median(peaks), 3),
            "kernel_ceiling": ceiling,
        })
    peak = stats(peaks, 1)
    return {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu", "dtype": str(dtype).split(".")[-1],
        **machine(), "matmul_peak_gflops": peak, "model_params": sum(p.numel() for p in model.parameters()),
        "flops_per_token": round(fpt), "new_tokens": new_tokens, "prompt_len": prompt_len, "runs": runs,
        "vllm_cpu": vllm_status(), "rows": rows,
        "time_split": time_split(model, max(batches), new_tokens, prompt_len) if device.type == "cpu" else None,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--batch", type=int, nargs="+", default=[64, 256])
    ap.add_argument("--new-tokens", type=int, default=256)
    ap.add_argument("--prompt-len", type=int, default=24)
    ap.add_argument("--runs", type=int, default=5, help="generate calls per engine and batch (median, min, max)")
    ap.add_argument("--device", default="cpu", help="cpu | cuda")
    ap.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    ap.add_argument("--set", action="append", default=[], dest="overrides", metavar="KEY=VALUE",
                    help="params override, repeatable: another model shape, e.g. model.num_layers=16")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    report = measure(args.params, args.batch, args.new_tokens, args.prompt_len, args.runs,
                     torch.device(args.device), getattr(torch, args.dtype), args.overrides)
    emit(report, args.out)


if __name__ == "__main__":
    main()
