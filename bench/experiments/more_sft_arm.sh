#!/usr/bin/env bash
# Issue #4's cheaper alternative, for a finished experiment run: continued SFT on the same traces from the run's
# SFT model, for as many training minutes as its RL stage used, then `t1 eval` of the arm beside the run's own
# SFT and RL models (greedy, and SAMPLES samples an item at T = 1.0, on the run's held-out set).
#
#   bash bench/experiments/more_sft_arm.sh /tmp/t1-run-c3                 # lr 1e-3 (run S's better arm)
#   LRS="3e-4 1e-3" SAMPLES=8 SFT_EPOCHS=100 OUT=reports/run_s bash bench/experiments/more_sft_arm.sh DIR  # scarce_traces.sh
#
# DIR is a directory an experiment script made (scratch.sh): it holds .venv, data/, models/sft/final,
# models/rl/final and metrics/rl.json. Each arm writes under DIR/more_sft_<lr>; the reports go to
# DIR/OUT/<model> (OUT: reports/arms). SFT_EPOCHS (the run's sft.epochs) sets the length of the arm's cosine, as in
# scarce_traces.sh: the time cap, not the schedule, ends it.
set -euo pipefail

cd "${1:?give a run directory}"
for need in .venv models/sft/final models/rl/final metrics/rl.json data/curated/heldout.jsonl; do
  [ -e "$need" ] || { echo "$(basename "$0"): $PWD/$need is missing; is this a finished run?" >&2; exit 2; }
done
t1() { .venv/bin/python -m t1core.cli --set tracking.enabled=false "$@"; }
MINUTES=$(.venv/bin/python -c 'import json; print(json.load(open("metrics/rl.json"))["train_minutes"])')

models=(models/sft/final models/rl/final)
for lr in ${LRS:-1e-3}; do
  arm=$PWD/more_sft_$lr
  t1 --set paths.models_dir="$arm/models" --set paths.metrics_dir="$arm/metrics" --set paths.reports_dir="$arm/reports" \
     --set model.kind=hf --set model.path="$PWD/models/sft/final" --set sft.max_minutes="$MINUTES" \
     --set sft.epochs="${SFT_EPOCHS:-100}" --set sft.resume=false --set sft.eval_every_minutes=null \
     --set sft.warmup_fraction=0 --set sft.lr="$lr" sft
  models+=("more_sft_$lr/models/sft/final")
done
for model in "${models[@]}"; do
  t1 eval --model "$model" --data data/curated/heldout.jsonl --samples "${SAMPLES:-4}" --temperature 1.0 --budgets 448 \
     --out "${OUT:-reports/arms}/${model//\//_}"
done
echo "RL trained $MINUTES minutes; reports: $PWD/${OUT:-reports/arms}/*/report.json"
