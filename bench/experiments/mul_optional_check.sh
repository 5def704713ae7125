#!/usr/bin/env bash
# Run C (issues #4 and #5): self-verification as a choice the SFT data leaves open, on 2x2-digit products.
#
#   bash bench/experiments/mul_optional_check.sh [WORK_DIR]      # default /tmp/t1-run-c; about 40 minutes on 2 cores
#   CHECK_FRACTION=0.3 bash bench/experiments/mul_optional_check.sh DIR
#   CHECK_KIND=nines bash bench/experiments/mul_optional_check.sh /tmp/t1-run-c3   # run C3: cast out nines
#   CHECK_KIND=threes_diff bash bench/experiments/mul_optional_check.sh /tmp/t1-run-c4   # run C4: cast out threes,
#                                                                     # ending 1-2=2 fails
#   CHECK_KIND=threes_steps bash bench/experiments/mul_optional_check.sh /tmp/t1-run-c5  # run C5: C4, each digit sum from 0
#   CHECK_KIND=nines_own bash bench/experiments/mul_optional_check.sh /tmp/t1-run-c6     # run C6: C3 in its own glyphs
#
# bench/experiments/mul_optional_check.patch adds `synth.mul_check_fraction`: that share of the `mul` traces
# work the product, then recompute it the other way round (b*a, other partial products) and compare the two
# (a slip in either makes them differ; a*b is then redone and compared with both); the rest answer after
# one computation (CHECK_KIND=nines: the check casts out nines instead, digit sums mod 9 in one-digit steps,
# which catches every dropped carry). Every trace is right. If the check pays for the model, RL should move it from answering
# at once to checking (longer responses, whose accuracy keeps rising with the token budget past the SFT
# model's length), which continued SFT on the same traces cannot do (it keeps the data's mix).
# Level 2 (2x2 digits), MUL_ITEMS generated problems, SFT_FRACTION of them SFT traces (the rest RL prompts with
# answers only), 80 held-out items: run S's regime (docs/results.md), where SFT plateaus on scarce traces.
# Then the pipeline's stages at their defaults (SFT 10-minute cap, RL 15-minute cap) and `t1 eval` with fine
# budgets. Runs in a scratch copy of this commit with the patch applied, MLflow off.
set -euo pipefail

# shellcheck disable=SC2034  # read by t1 (scratch.sh)
DATA=(--set 'data.procedural.families=[mul]' --set 'data.procedural.levels=[2]'
      --set "data.procedural.items_per_family_level=${MUL_ITEMS:-4000}" --set data.procedural.heldout_items_per_family_level=80
      --set data.split.sft_fraction="${SFT_FRACTION:-0.1}" --set sft.epochs="${SFT_EPOCHS:-100}"
      --set "synth.mul_check_fraction=${CHECK_FRACTION:-0.4}" --set synth.trial_and_error_fraction="${SLIP_FRACTION:-0.5}"
      --set synth.mul_check_kind="${CHECK_KIND:-other_way}"
      --set rl.max_minutes="${RL_MINUTES:-15}" --set tracking.enabled=false
      --set 'eval.budgets=[32,64,96,128,192,256,320,448]')
PATCHES="bench/experiments/mul_optional_check.patch ${PATCHES:-}"
# shellcheck source=/dev/null
source "$(dirname "$0")/scratch.sh" "${1:-/tmp/t1-run-c}"  # a scratch copy of this commit; enters it, sets WORK

t1_pipeline  # curate, synthesize, sft, rl, eval (scratch.sh)
