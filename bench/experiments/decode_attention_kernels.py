"""Kernels for the sampler's single decode query, timed against its own `decode_attention` (docs/benchmarks.md).

    .venv/bin/python bench/experiments/decode_attention_kernels.py [--runs 3]

At each shape (batch, keys): 4 heads, head_dim 32, keys and values sliced from a 600-column cache laid out as the
sampler's, a mask with 5 % of the keys off. Each kernel's microseconds a call (`bench.common.seconds_per_call`),
median (min-max) over the runs, 2 torch threads.
"""

import argparse
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench.common import machine, seconds_per_call, stats  # noqa: E402
from t1core.rollout.cpu_sampler import decode_attention  # noqa: E402

SHAPES = [(64, 90), (64, 200), (256, 150)]
HEADS, HEAD_DIM, CACHE = 4, 32, 600


def kernels(batch: int, keys: int) -> dict:
    """name -> a call of that kernel on one (batch, keys) problem."""
    gen = torch.Generator().manual_seed(0)
    k_cache, v_cache, kt_cache = (torch.randn(shape, generator=gen) for shape in (
        (batch, HEADS, CACHE, HEAD_DIM), (batch, HEADS, CACHE, HEAD_DIM), (batch, HEADS, HEAD_DIM, CACHE)))
    k, v, kt = k_cache[:, :, :keys], v_cache[:, :, :keys], kt_cache[..., :keys]
    q = torch.randn(batch, HEADS, 1, HEAD_DIM, generator=gen)
    mask = torch.rand(batch, 1, 1, keys, generator=gen) > 0.05
    scale = HEAD_DIM**-0.5

    def elementwise():
        p = torch.softmax(((q * k).sum(-1) * scale).masked_fill(~mask[:, :, 0], float("-inf")), dim=-1)
        return (p[..., None] * v).sum(-2)

    def transposed_keys():
        p = torch.softmax(torch.matmul(q, kt).mul(scale).masked_fill(~mask, float("-inf")), dim=-1)
        return torch.matmul(p, v)

    return {
        "decode_attention (batched matmuls)": lambda: decode_attention(q, k, v, mask),
        "SDPA": lambda: F.scaled_dot_product_attention(q, k, v, attn_mask=mask),
        "element-wise": elementwise,
        "transposed keys": transposed_keys,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(2)
    cpu = torch.device("cpu")
    print(f"{machine()['cpu']}, torch {torch.__version__}, {args.runs} runs; microseconds a call, median (min-max)")
    for batch, keys in SHAPES:
        calls = kernels(batch, keys)
        times = {name: [] for name in calls}
        for _ in range(args.runs):  # interleaved, so a slow minute hits every kernel alike
            for name, fn in calls.items():
                times[name].append(1e6 * seconds_per_call(fn, cpu))
        cells = ", ".join(f"{name} {s['median']:.0f} ({s['min']:.0f}-{s['max']:.0f})"
                          for name, s in ((n, stats(t, 0)) for n, t in times.items()))
        print(f"batch {batch}, {keys} keys: {cells}")


if __name__ == "__main__":
    main()
