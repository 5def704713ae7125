"""SFT step throughput, eager against torch.compile (inductor, dynamic shapes): an experiment, not in the suite.

    python bench/experiments/compile_sft.py eager
    python bench/experiments/compile_sft.py compile

Run after `make run`, alone on the machine. Builds the suite's SFT trainer (`bench/sft_throughput.trainer`:
a fresh embedded model on the real traces), optionally compiles its module in place, makes 6 warm-up
steps (the compile happens there), then times 3 runs of 30 steps in the stage's own batch order.
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/
from sft_throughput import trainer  # noqa: E402


def main(mode: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        t = trainer("params.yaml", Path(tmp))
        if mode == "compile":
            t.engine.module.compile(dynamic=True)
        batches = [b for e in range(100) for b in t._epoch_batches(e)]
        t0 = time.perf_counter()
        for b in batches[:6]:
            t.train_step(b)
        print(f"{mode}: warm-up 6 steps {time.perf_counter() - t0:.1f} s", flush=True)
        for r in range(3):
            chunk = batches[6 + 30 * r: 36 + 30 * r]
            tokens = sum(len(t.examples[i].input_ids) for b in chunk for i in b)
            t0 = time.perf_counter()
            for b in chunk:
                t.train_step(b)
            dt = time.perf_counter() - t0
            print(f"{mode}: run {r}: {tokens / dt:,.0f} tokens/s ({dt / 30:.3f} s a step)", flush=True)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", choices=["eager", "compile"])
    main(ap.parse_args().mode)
