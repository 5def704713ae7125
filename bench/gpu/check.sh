#!/usr/bin/env bash
# The GPU checks of issue #7, as one script for a lent GPU machine (docs/gpu.md has the results).
#   bash bench/gpu/check.sh OUT_DIR [SFT_MINUTES] [RL_MINUTES]   (T1_PROFILE overrides the profile)
# 1. tests/gpu: the sampler, HF generate, DeepSpeed ZeRO 0/2/3 in fp32/bf16 (NCCL) and one RL step on CUDA;
# 2. rollout throughput on the GPU, fp32 and bf16;
# 3. the embedded pipeline (curate -> synthesize -> sft -> rl -> evaluate) with profile gpu-embedded,
#    wall-clock caps SFT_MINUTES / RL_MINUTES (default 2 / 2), tracking off.
# Python packages the machine lacks travel as wheels in .whl/ (see docs/gpu.md).
set -uo pipefail
dest=${1:?usage: check.sh OUT_DIR [SFT_MINUTES] [RL_MINUTES]}
sft_min=${2:-2}
rl_min=${3:-2}
profile=${T1_PROFILE:-gpu-embedded}
out=$(mktemp -d)  # everything lands here and travels back as one archive: $dest/gpu_results.tgz
mkdir -p "$dest"
export PYTHONUNBUFFERED=1 TORCH_EXTENSIONS_DIR=$PWD/.cache/torch_extensions T1_GPU_REPORT=$out/gpu_tests.json
t0=$(date +%s)
stamp() { echo "== $(( $(date +%s) - t0 )) s: $*"; }

stamp environment
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader; python3 -c 'import torch, transformers, deepspeed; print("torch", torch.__version__, "cuda", torch.version.cuda, "transformers", transformers.__version__, "deepspeed", deepspeed.__version__)'; } 2>&1 | tee "$out/env.txt"

stamp tests/gpu
python3 -m pytest -q -p no:cacheprovider -m gpu tests/gpu -o addopts="" 2>&1 | tail -25 | tee "$out/gpu_tests.txt"
[ -f "$T1_GPU_REPORT" ] && python3 -c 'import json, sys; print(json.dumps({k: {a: b for a, b in v.items() if a not in ("losses", "cpu_torch")} for k, v in json.load(sys.stdin).items()}))' < "$T1_GPU_REPORT"

stamp rollout bench
for dtype in float32 bfloat16; do
  python3 bench/rollout.py --device cuda --dtype $dtype --batch 64 256 1024 --new-tokens 256 --runs 2 --out "$out/rollout_cuda_$dtype.json" > /dev/null 2>&1 \
    || echo "rollout bench $dtype failed"
  python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(d["dtype"], d["matmul_peak_gflops"], d["rows"])' "$out/rollout_cuda_$dtype.json" 2>/dev/null
done
stamp pipeline
t1() { python3 -m t1core.cli --profile "$profile" --set tracking.enabled=false --set sft.max_minutes="$sft_min" \
  --set rl.max_minutes="$rl_min" "$@"; }
for stage in curate synthesize sft rl eval; do
  stamp "t1 $stage"
  t1 $stage > "$out/$stage.json" 2> "$out/$stage.err" || { echo "t1 $stage failed:"; tail -30 "$out/$stage.err"; break; }
  python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print({k: v for k, v in d.items() if isinstance(v, (int, float, str))})' "$out/$stage.json"
done
cp metrics/*.json reports/scaling.png "$out/" 2>/dev/null
for r in reports/eval/*/report.json; do [ -f "$r" ] && cp "$r" "$out/eval_$(basename "$(dirname "$r")").json"; done
tar czf "$dest/gpu_results.tgz" -C "$out" .
stamp "done"
