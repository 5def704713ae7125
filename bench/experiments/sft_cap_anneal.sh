#!/usr/bin/env bash
# sft.anneal_within_cap: the default SFT cut short by a wall-clock cap (CAP_MINUTES, default 5, about half
# of its 24 epochs on the Xeon), once with the cosine by steps (the default: it stops at a high lr) and once
# annealed within the cap. Each arm: its own models/metrics/reports directories in one scratch copy.
#
#   bash bench/experiments/sft_cap_anneal.sh [WORK_DIR]     # default /tmp/t1-cap-anneal; about 15 minutes
# Results: docs/sft.md ("Schedule") and metrics-false/sft.json, metrics-true/sft.json in WORK_DIR.
set -euo pipefail

# shellcheck disable=SC2034  # read by t1 (scratch.sh)
DATA=(--set tracking.enabled=false --set "sft.max_minutes=${CAP_MINUTES:-5}")
# shellcheck source=/dev/null
source "$(dirname "$0")/scratch.sh" "${1:-/tmp/t1-cap-anneal}"

t1 curate
t1 synthesize
for anneal in false true; do
  t1 --set "sft.anneal_within_cap=$anneal" --set "paths.models_dir=models-$anneal" \
     --set "paths.metrics_dir=metrics-$anneal" --set "paths.reports_dir=reports-$anneal" sft
done
echo "results: $WORK/metrics-false/sft.json $WORK/metrics-true/sft.json"
