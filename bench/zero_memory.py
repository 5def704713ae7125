"""Per-GPU memory estimate for the GPU profiles: ZeRO stage × model × K × max response length (issue #8).

An estimate from formulas, not a measurement (no GPU with these models here):
- model states (bf16 weights, fp32 grads/Adam/master copy) from DeepSpeed's own estimators
  (`estimate_zero2_model_states_mem_needs`, `estimate_zero3_model_states_mem_needs`);
- the EMA reference: one bf16 copy per rank (t1 keeps it as a plain module); the last column
  shows the waves if it were sharded like the policy (1/N per rank);
- training activations of one response row with activation checkpointing: one bf16 hidden
  state per layer plus one layer recomputed (about 34 bytes per token and hidden unit, flash
  attention, Korthikanti et al. 2022), and the fp32 logits and log-softmax of the row, which
  t1's log-prob recomputation materialises (2 × 4 bytes × tokens × vocabulary);
- rollouts on the same GPUs: the bf16 KV cache of one sequence at full length, and how many
  such sequences fit in what is left; `waves` = how many rounds of generation the step's
  K × B rollouts need on each GPU.

    python bench/zero_memory.py --out bench/results/zero_memory.json --markdown
"""

import argparse
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

GB = 1e9
PROMPTS_PER_STEP = 32  # the paper's B
PROMPT_TOKENS = 1024


@dataclass(frozen=True)
class Arch:
    name: str
    hidden: int
    layers: int
    heads: int
    kv_heads: int
    intermediate: int
    vocab: int
    qkv_bias: bool
    head_dim: int = 128

    @property
    def params(self) -> int:
        q, kv = self.heads * self.head_dim, self.kv_heads * self.head_dim
        attn = self.hidden * (q + 2 * kv) + q * self.hidden + ((q + 2 * kv) if self.qkv_bias else 0)
        layer = attn + 3 * self.hidden * self.intermediate + 2 * self.hidden
        return self.layers * layer + 2 * self.vocab * self.hidden + self.hidden  # untied embeddings + lm_head

    def kv_bytes_per_token(self) -> int:
        return 2 * self.layers * self.kv_heads * self.head_dim * 2  # K and V, bf16


# public HF configs of the checkpoints the profiles name
ARCHS = [
    Arch("GLM-4-9B", hidden=4096, layers=40, heads=32, kv_heads=2, intermediate=13696, vocab=151552, qkv_bias=True),
    Arch("Qwen2.5-14B", hidden=5120, layers=48, heads=40, kv_heads=8, intermediate=13824, vocab=152064, qkv_bias=True),
    Arch("Qwen2.5-32B", hidden=5120, layers=64, heads=40, kv_heads=8, intermediate=27648, vocab=152064, qkv_bias=True),
]
ZERO = [("ZeRO-2", 2, False), ("ZeRO-3", 3, False), ("ZeRO-3 + optimizer offload", 3, True)]


def model_states_gb(arch: Arch, stage: int, offload: bool, gpus: int) -> float:
    from deepspeed.runtime.zero.stage3 import estimate_zero3_model_states_mem_needs
    from deepspeed.runtime.zero.stage_1_and_2 import estimate_zero2_model_states_mem_needs

    if stage == 2:
        _, gpu = estimate_zero2_model_states_mem_needs(arch.params, gpus, 1, cpu_offload=offload)
    else:
        largest = arch.vocab * arch.hidden  # the embedding (or lm_head) is the largest single layer
        _, gpu, _ = estimate_zero3_model_states_mem_needs(arch.params, largest, gpus, 1, cpu_offload=offload,
                                                         cpu_offload_params=False)
    return gpu / GB


def activations_gb(arch: Arch, tokens: int) -> float:
    checkpoints = arch.layers * tokens * arch.hidden * 2
    one_layer = tokens * arch.hidden * 34
    logits = 2 * 4 * tokens * arch.vocab
    return (checkpoints + one_layer + logits) / GB


def row(arch: Arch, zero: tuple[str, int, bool], k: int, length: int, gpus: int, gpu_gb: float) -> dict:
    label, stage, offload = zero
    states = model_states_gb(arch, stage, offload, gpus)
    reference = 2 * arch.params / GB
    acts = activations_gb(arch, PROMPT_TOKENS + length)
    free = gpu_gb - states - reference - acts
    free_sharded_ref = free + reference - reference / gpus
    kv_seq = arch.kv_bytes_per_token() * (PROMPT_TOKENS + length) / GB
    fit = max(0, math.floor(free / kv_seq)) if free > 0 else 0
    fit_sharded = max(0, math.floor(free_sharded_ref / kv_seq)) if free_sharded_ref > 0 else 0
    per_gpu = math.ceil(k * PROMPTS_PER_STEP / gpus)
    return {
        "model": arch.name, "params_b": round(arch.params / 1e9, 2), "zero": label, "k": k, "max_len": length,
        "gpus": gpus, "states_gb": round(states, 1), "reference_gb": round(reference, 1), "activations_gb": round(acts, 1),
        "free_gb": round(free, 1), "kv_per_seq_gb": round(kv_seq, 2), "seqs_at_once": fit,
        "rollouts_per_gpu": per_gpu, "waves": math.ceil(per_gpu / fit) if fit else None,
        "free_gb_sharded_ref": round(free_sharded_ref, 1),
        "waves_sharded_ref": math.ceil(per_gpu / fit_sharded) if fit_sharded else None,
    }


def table(gpus: int, gpu_gb: float) -> list[dict]:
    return [row(a, z, k, length, gpus, gpu_gb) for a in ARCHS for z in ZERO for k in (16, 64) for length in (10240, 16384)]


def markdown(rows: list[dict]) -> str:
    head = ("| model | params | ZeRO | K | max len | states | EMA ref | activations | free for KV | KV / seq | seqs at once | "
            "rollouts / GPU | waves | waves, EMA ref sharded |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    lines = [head]
    for r in rows:
        waves, sharded = (w if w is not None else "does not fit" for w in (r["waves"], r["waves_sharded_ref"]))
        lines.append(f"| {r['model']} | {r['params_b']} B | {r['zero']} | {r['k']} | {r['max_len']:,} | {r['states_gb']} | "
                     f"{r['reference_gb']} | {r['activations_gb']} | {r['free_gb']} | {r['kv_per_seq_gb']} | "
                     f"{r['seqs_at_once']} | {r['rollouts_per_gpu']} | {waves} | {sharded} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gpus", type=int, default=8, help="GPUs the model states are sharded over")
    ap.add_argument("--gpu-gb", type=float, default=80.0, help="memory of one GPU, GB")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()
    rows = table(args.gpus, args.gpu_gb)
    if args.out:
        meta = {"gpus": args.gpus, "gpu_gb": args.gpu_gb, "prompts_per_step": PROMPTS_PER_STEP, "prompt_tokens": PROMPT_TOKENS,
                "archs": [asdict(a) | {"params": a.params} for a in ARCHS]}
        args.out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1) + "\n")
    print(markdown(rows) if args.markdown else json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
