#!/usr/bin/env bash
# Run P (issue #5): inference scaling on the `pair` family, whose search length varies by item.
#
#   bash bench/experiments/pair_scaling.sh [WORK_DIR]      # default /tmp/t1-run-p; about 35 minutes on 2 cores
#   PAIR_LEVELS='[3,4]' MAX_SEQ=640 MAX_TOKENS=576 BUDGETS='[...]' bash bench/experiments/pair_scaling.sh DIR   # run P5's settings
#   PAIR_ITEMS=5000 bash bench/experiments/pair_scaling.sh DIR   # items per level (runs H2, H3, with a guess patch applied)
#   PAIR_ITEMS=5000 SFT_EPOCHS=12 bash ...                       # run H4: a schedule that ends within SFT's 10 minutes
#   PATCHES=bench/experiments/pair_short_traces.patch PAIR_ITEMS=3000 EXTRA_SETS='--set data.procedural.sft_max_place=6' \
#     BUDGETS='[32,64,96,128,192,256,320,448]' bash ...          # run R: SFT traces of short searches only
# PATCHES: experiment patches applied to the scratch copy (scratch.sh); EXTRA_SETS: more `--set` overrides.
#
# "Which two of 46, 16, 23, 51, 42 add up to 97?": the traces try the pairs in listed order, one sum each,
# until one adds up, so a generation needs as many tokens as the right pair's place in the list (5-6
# numbers: 10-15 pairs). Half the traces carry a slip caught by a check: a wrong pair judged to match or
# mis-added to the target, its check re-adding it against the target; or the right pair mis-added and
# passed over, after which every pair is re-added until one passes (the retry-until-a-check-passes
# shape; docs/sft.md). Run P ran at commit 78fde25, before the "judged to match" slip; run P3 at 197a1d0.
# Levels 2-3, 2,000 items per level (half SFT traces, half RL prompts), 60 held-out items per level. Then the pipeline's own stages at their defaults: SFT
# (10-minute cap), RL (15-minute cap), and `t1 eval`, which cuts each checkpoint's one greedy generation
# at finer budgets than the default. Runs in a scratch copy of this commit (the repository's data/,
# models/ and metrics/ are never touched), MLflow off.
# Results: docs/results.md, "Run P" and its P2-P5 subsections, and "Runs H-H3".
set -euo pipefail

# shellcheck disable=SC2034  # read by t1 (scratch.sh)
DATA=(--set 'data.procedural.families=[pair]' --set "data.procedural.levels=${PAIR_LEVELS:-[2,3]}"
      --set "data.procedural.items_per_family_level=${PAIR_ITEMS:-2000}" --set data.procedural.heldout_items_per_family_level=60
      --set tracking.enabled=false --set "eval.budgets=${BUDGETS:-[32,64,96,128,192,256,448]}"
      --set "eval.max_new_tokens=${MAX_TOKENS:-448}" --set "rl.max_new_tokens=${MAX_TOKENS:-448}"
      --set "model.max_seq_len=${MAX_SEQ:-512}" --set "sft.epochs=${SFT_EPOCHS:-24}")
read -r -a _extra <<< "${EXTRA_SETS:-}"
DATA+=("${_extra[@]}")
# shellcheck source=/dev/null
source "$(dirname "$0")/scratch.sh" "${1:-/tmp/t1-run-p}"  # a scratch copy of this commit; enters it, sets WORK

t1_pipeline  # curate, synthesize, sft, rl, eval (scratch.sh)
