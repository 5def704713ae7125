#!/usr/bin/env bash
# Run S (issue #4): scarce SFT traces, plentiful answer-only RL prompts, the regime T1 trains in.
#
#   bash bench/experiments/scarce_traces.sh [WORK_DIR]      # default /tmp/t1-run-s; about 45 minutes on 2 cores
#   SFT_FRACTION=0.05 RL_ROUNDS=16 ARM_LRS=1e-3 bash bench/experiments/scarce_traces.sh /tmp/t1-run-s2   # run S2
#
# 2x2-digit products only: 4,000 generated problems, SFT_FRACTION of them (default 10 %: 397) get SFT traces,
# the rest are RL prompts with answers only, 80 held-out items. SFT runs 100 epochs, so it memorises its
# traces and plateaus. Then, from that SFT model:
#   - RL at the defaults, RL_ROUNDS rounds of 10 steps (default 8), within rl.max_minutes (15);
#   - continued SFT on the same traces for as many minutes as RL trained, at each lr of ARM_LRS (default
#     3e-4, the ablation arm's (bench/ablations.py `more_sft`), and 1e-3);
# and every final model is scored by `t1 eval` (greedy + 8 samples at T = 1). Runs in a scratch copy of
# this commit (the repository's own data/, models/ and metrics/ are never touched), MLflow off.
# Results: docs/results.md, "Scarce traces, plentiful prompts (run S)" and "Runs S2 and S3".
set -euo pipefail

# shellcheck disable=SC2034  # read by t1 (scratch.sh)
DATA=(--set 'data.procedural.families=[mul]' --set 'data.procedural.levels=[2]'
      --set data.procedural.heldout_items_per_family_level=80 --set data.split.sft_fraction="${SFT_FRACTION:-0.1}"
      --set sft.epochs=100 --set tracking.enabled=false)
# shellcheck source=/dev/null
source "$(dirname "$0")/scratch.sh" "${1:-/tmp/t1-run-s}"  # a scratch copy of this commit; enters it, sets WORK
t1 curate
t1 synthesize
t1 sft
t1 --set rl.rounds="${RL_ROUNDS:-8}" rl   # the defaults: 10 steps a round (run S: 80 steps in 8.2 training minutes)
# continued SFT for RL's training minutes at each lr (a cosine over sft.epochs, as bench/ablations.py's more_sft arm
# built it until 2026-11-27), then every final model scored
LRS="${ARM_LRS:-3e-4 1e-3}" SAMPLES=8 OUT=reports/run_s bash "$(dirname "$0")/more_sft_arm.sh" "$WORK"
