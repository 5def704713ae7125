"""Rollout throughput: the lean sampler vs HF `generate`, and the share of the device's matmul peak.

    python bench/rollout.py [--batch 64 256] [--new-tokens 256] [--prompt-len 24] [--device cpu|cuda]
                            [--dtype float32|bfloat16] [--out bench/results/rollout.json]

The model is the embedded default's architecture (params.yaml `model`), randomly
initialised; EOS is disabled so every engine generates exactly batch x new-tokens
tokens and the work is identical. FLOPs per token = 2 x (parameters touched per token:
every matrix except the embedding lookup, lm_head included) + attention (4 x layers x
hidden x context, at the mean context of the run).
"""

import argparse
import json
import time
from pathlib import Path

import torch
from transformers import LlamaConfig, LlamaForCausalLM

from t1core.config import load_params
from t1core.rollout.cpu_sampler import CPUSampler
from t1core.rollout.hf_engine import HFGenerateEngine

NO_EOS = -1  # never sampled: fixed-length generation


def matmul_peak_gflops(device: torch.device, dtype: torch.dtype, repeats: int = 10) -> float:
    """Square matmuls in the model's dtype on the bench's threads or GPU (TF32 off, as for the model)."""
    n = 8192 if device.type == "cuda" else 2048
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    a @ b  # warm-up
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(repeats):
        a @ b
    _sync(device)
    return 2 * n**3 * repeats / (time.perf_counter() - t0) / 1e9


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def build_model(params_path: str) -> LlamaForCausalLM:
    m = load_params(params_path).model
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--batch", type=int, nargs="+", default=[64, 256])
    ap.add_argument("--new-tokens", type=int, default=256)
    ap.add_argument("--prompt-len", type=int, default=24)
    ap.add_argument("--device", default="cpu", help="cpu | cuda")
    ap.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    torch.manual_seed(0)
    device, dtype = torch.device(args.device), getattr(torch, args.dtype)
    model = build_model(args.params).to(device=device, dtype=dtype)
    peak = matmul_peak_gflops(device, dtype)
    fpt = flops_per_token(model, args.prompt_len + args.new_tokens / 2)
    rows = []
    for b in args.batch:
        prompts = torch.randint(2, model.config.vocab_size, (b, args.prompt_len)).tolist()
        cpu = run_engine(CPUSampler(NO_EOS, 0, batch_size=b), model, prompts, args.new_tokens)
        hf = run_engine(HFGenerateEngine(NO_EOS, 0, batch_size=b), model, prompts, args.new_tokens)
        rows.append({
            "batch": b, "cpu_tokens_per_s": round(cpu), "hf_tokens_per_s": round(hf), "speedup": round(cpu / hf, 2),
            "cpu_gflops": round(cpu * fpt / 1e9, 1), "cpu_share_of_peak": round(cpu * fpt / 1e9 / peak, 3),
        })
    report = {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu", "dtype": args.dtype,
        "torch": torch.__version__, "torch_threads": torch.get_num_threads(), "matmul_peak_gflops": round(peak, 1),
        "model_params": sum(p.numel() for p in model.parameters()), "flops_per_token": round(fpt),
        "new_tokens": args.new_tokens, "prompt_len": args.prompt_len, "rows": rows,
    }
    print(json.dumps(report, indent=2))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
