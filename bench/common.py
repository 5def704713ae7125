"""What every benchmark shares: the machine it ran on, the matmul peak it is measured against,
run statistics, and the GEMM shape bound (how fast the device multiplies the model's own shapes)."""

import json
import os
import platform
import statistics
import time

import torch


def machine() -> dict:
    """Cores, CPU model, torch version and threads: the header of every benchmark table."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"cores": os.cpu_count(), "cpu": cpu, "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
            "python": platform.python_version()}


def emit(report: dict, out: str | None) -> None:
    """Print a benchmark's JSON report and, with --out, write it there."""
    text = json.dumps(report, indent=2)
    print(text)
    if out:
        os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
        with open(out, "w") as f:
            f.write(text + "\n")


def stats(xs: list[float], digits: int = 3) -> dict:
    """Median, min and max of repeated runs (the suite reports all three)."""
    return {"median": round(statistics.median(xs), digits), "min": round(min(xs), digits), "max": round(max(xs), digits),
            "runs": len(xs)}


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_peak_gflops(device: torch.device, dtype: torch.dtype, repeats: int = 10) -> float:
    """Square matmuls in the model's dtype on the bench's threads or GPU (TF32 off, as for the model)."""
    n = 8192 if device.type == "cuda" else 2048
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    a @ b  # warm-up
    sync(device)
    t0 = time.perf_counter()
    for _ in range(repeats):
        a @ b
    sync(device)
    return 2 * n**3 * repeats / (time.perf_counter() - t0) / 1e9


def read_bandwidth_gbs(nbytes: int, device: torch.device, repeats: int = 7) -> float:
    """GB/s of one streaming read (a sum) over a fresh nbytes fp32 buffer: the best of `repeats`, the rate a
    memory-bound kernel reading that footprint could at most reach (on a CPU whose last-level cache holds the
    buffer this is the cache's rate, not DRAM's)."""
    x = torch.ones(max(nbytes // 4, 1), device=device)
    x.sum()
    best = float("inf")
    for _ in range(repeats):
        sync(device)
        t0 = time.perf_counter()
        x.sum()
        sync(device)
        best = min(best, time.perf_counter() - t0)
    return x.numel() * 4 / best / 1e9


def seconds_per_call(fn, device: torch.device, min_seconds: float = 0.2) -> float:
    """Mean seconds of one fn() call in a tight loop (after one warm-up call), run in batches of 10 until
    min_seconds have passed."""
    fn()
    reps, elapsed = 0, 0.0
    sync(device)
    t0 = time.perf_counter()
    while elapsed < min_seconds:
        for _ in range(10):
            fn()
        reps += 10
        sync(device)
        elapsed = time.perf_counter() - t0
    return elapsed / reps


def gemm_bound_gflops(shapes: list[tuple[int, int, int]], device: torch.device, dtype: torch.dtype,
                      min_seconds: float = 0.2) -> dict:
    """GFLOP/s of the matmuls (m, k, n) one model step is made of, each timed alone in a tight loop.

    The sum of their FLOPs over the sum of their times is what the step's dense part could reach
    with no framework overhead at all: the ceiling for these shapes, as opposed to the square
    2048^2 peak. Returns {"gflops": ..., "per_shape": [{"m", "k", "n", "gflops"}]}.
    """
    total_flops = total_s = 0.0
    per_shape = []
    for m, k, n in shapes:
        a, b = torch.randn(m, k, device=device, dtype=dtype), torch.randn(k, n, device=device, dtype=dtype)
        per_call = seconds_per_call(lambda: a @ b, device, min_seconds)
        flops = 2.0 * m * k * n
        total_flops, total_s = total_flops + flops, total_s + per_call
        per_shape.append({"m": m, "k": k, "n": n, "gflops": round(flops / per_call / 1e9, 3)})
    return {"gflops": round(total_flops / total_s / 1e9, 3), "per_shape": per_shape}


def llama_gemms(cfg, rows: int) -> list[tuple[int, int, int]]:
    """The forward matmuls (m, k, n) of a Llama model on `rows` tokens at once: per layer q, k, v, o and the
    three MLP projections, then lm_head (attention's score/value products are not GEMMs of this kind)."""
    h, inter, vocab = cfg.hidden_size, cfg.intermediate_size, cfg.vocab_size
    kv = getattr(cfg, "num_key_value_heads", cfg.num_attention_heads) * (h // cfg.num_attention_heads)
    layer = [(rows, h, h), (rows, h, kv), (rows, h, kv), (rows, h, h), (rows, h, inter), (rows, h, inter), (rows, inter, h)]
    return layer * cfg.num_hidden_layers + [(rows, h, vocab)]
