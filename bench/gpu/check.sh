#!/usr/bin/env bash
# The GPU checks of issue #7, as one script for a lent GPU machine (docs/gpu.md has the results).
#   bash bench/gpu/check.sh OUT_DIR [SFT_MINUTES] [RL_MINUTES]   (T1_PROFILE overrides the profile)
# 1. tests/gpu: the sampler, HF generate, DeepSpeed ZeRO 0/2/3 in fp32/bf16 (NCCL), ZeRO optimizer offload, activation checkpointing,
#    and one RL step on CUDA under ZeRO-0 and ZeRO-3;
# 2. rollout throughput on the GPU: a 0.9B-parameter Llama shape in bf16, then the embedded model in fp32 and bf16
#    (T1_ROLLOUT_EMBEDDED=0 skips the latter);
# 3. the embedded pipeline (curate -> synthesize -> sft -> rl -> evaluate) with profile gpu-embedded,
#    wall-clock caps SFT_MINUTES / RL_MINUTES (default 2 / 2), tracking off.
# Each step has a time limit, so one that hangs cannot take the others' time, and the archive is rewritten after
# each step, so a run stopped from outside still returns what it finished.
# T1_GPU_TESTS=0 skips step 1, T1_ROLLOUT=0 step 2.
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
stamp() { echo "== $(( $(date +%s) - t0 )) s: $*"; tar czf "$dest/gpu_results.tgz" -C "$out" .; }

stamp environment
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader; python3 -c 'import torch, transformers, deepspeed; print("torch", torch.__version__, "cuda", torch.version.cuda, "transformers", transformers.__version__, "deepspeed", deepspeed.__version__)'; } 2>&1 | tee "$out/env.txt"

if [ "${T1_GPU_TESTS:-1}" = 1 ]; then
  stamp tests/gpu
  timeout 420 python3 -m pytest -q -p no:cacheprovider -m gpu tests/gpu -o addopts="" 2>&1 | tail -25 | tee "$out/gpu_tests.txt"
  [ -f "$T1_GPU_REPORT" ] && python3 -c 'import json, sys; print(json.dumps({k: {a: b for a, b in v.items() if a not in ("losses", "cpu_torch")} for k, v in json.load(sys.stdin).items()}))' < "$T1_GPU_REPORT"
fi

rollout() {  # rollout() NAME DTYPE BATCHES [--set ...]: bench/rollout.py on the GPU into $out/rollout_cuda_NAME.json
  local name=$1 dtype=$2 batches=$3
  shift 3
  # shellcheck disable=SC2086  # $batches is a list of batch sizes
  timeout 300 python3 bench/rollout.py --device cuda --dtype "$dtype" --batch $batches --new-tokens 256 --runs 2 "$@" \
    --out "$out/rollout_cuda_$name.json" > "$out/rollout_$name.err" 2>&1 || { echo "rollout bench $name failed:"; tail -5 "$out/rollout_$name.err"; }
  python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(d["model_params"], d["dtype"], d["matmul_peak_gflops"], d["rows"])' \
    "$out/rollout_cuda_$name.json" 2>/dev/null
}
if [ "${T1_ROLLOUT:-1}" = 1 ]; then
  stamp "rollout bench: 0.9B-parameter Llama shape, bf16"
  rollout 0.9b bfloat16 "64 256" --set model.hidden_size=2048 --set model.intermediate_size=5632 --set model.num_layers=16 \
    --set model.num_heads=16 --set model.vocab_size=32000 --set model.max_seq_len=2048
fi
if [ "${T1_ROLLOUT:-1}" = 1 ] && [ "${T1_ROLLOUT_EMBEDDED:-1}" = 1 ]; then
  for dtype in float32 bfloat16; do
    stamp "rollout bench: embedded model, $dtype"
    rollout "$dtype" "$dtype" "64 256 1024"
  done
fi
stamp pipeline
t1=(python3 -m t1core.cli --profile "$profile" --set tracking.enabled=false --set sft.max_minutes="$sft_min"
    --set rl.max_minutes="$rl_min")
for stage in curate synthesize sft rl eval; do
  stamp "t1 $stage"
  timeout 600 "${t1[@]}" "$stage" > "$out/$stage.json" 2> "$out/$stage.err" || { echo "t1 $stage failed:"; tail -30 "$out/$stage.err"; break; }
  python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print({k: v for k, v in d.items() if isinstance(v, (int, float, str))})' "$out/$stage.json"
  cp metrics/*.json reports/rl_steps.json "$out/" 2>/dev/null
done
cp reports/scaling.png "$out/" 2>/dev/null
for r in reports/eval/*/report.json; do [ -f "$r" ] && cp "$r" "$out/eval_$(basename "$(dirname "$r")").json"; done
stamp "done"
