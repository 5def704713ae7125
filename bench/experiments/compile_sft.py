"""SFT step throughput, eager against torch.compile (inductor, dynamic shapes): an experiment, not in the suite.

    python bench/experiments/compile_sft.py eager
    python bench/experiments/compile_sft.py compile [--attention eager] [--inductor-mode max-autotune-no-cudagraphs]

Run after `make run`, alone on the machine. Builds the suite's SFT trainer (`bench/sft_throughput.trainer`:
a fresh embedded model on the real traces), optionally compiles its module in place, makes 6 warm-up
steps (the compile happens there), then times 3 runs of 30 steps in the stage's own batch order.
`--attention eager` swaps HF's SDPA attention for its matmul-softmax-matmul one (which inductor can
fuse); `--inductor-mode` is passed to torch.compile.
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/
from sft_throughput import trainer  # noqa: E402


def main(mode: str, attention: str, inductor_mode: str | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        t = trainer("params.yaml", Path(tmp))
        t.engine.module.config._attn_implementation = attention
        if mode == "compile":
            t.engine.module.compile(dynamic=True, mode=inductor_mode)
        label = f"{mode} ({attention} attention{', ' + inductor_mode if inductor_mode else ''})"
        batches = [b for e in range(100) for b in t._epoch_batches(e)]
        t0 = time.perf_counter()
        for b in batches[:6]:
            t.train_step(b)
        print(f"{label}: warm-up 6 steps {time.perf_counter() - t0:.1f} s", flush=True)
        for r in range(3):
            chunk = batches[6 + 30 * r: 36 + 30 * r]
            tokens = sum(len(t.examples[i].input_ids) for b in chunk for i in b)
            t0 = time.perf_counter()
            for b in chunk:
                t.train_step(b)
            dt = time.perf_counter() - t0
            print(f"{label}: run {r}: {tokens / dt:,.0f} tokens/s ({dt / 30:.3f} s a step)", flush=True)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", choices=["eager", "compile"])
    ap.add_argument("--attention", choices=["sdpa", "eager"], default="sdpa", help="HF attention implementation")
    ap.add_argument("--inductor-mode", choices=["default", "max-autotune-no-cudagraphs"], default="default")
    args = ap.parse_args()
    main(args.mode, args.attention, None if args.inductor_mode == "default" else args.inductor_mode)
