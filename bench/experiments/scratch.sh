# Sourced by the experiment scripts, after they set DATA, as `source scratch.sh WORK`: fills WORK, which
# must not exist yet, with a scratch copy of this commit (the repository's own data/, models/ and metrics/
# are never touched) and a link to the repository's .venv, then enters it (WORK becomes its absolute path).
# `t1 ...` then runs the CLI there with the script's DATA overrides. PATCHES (space-separated, paths relative to
# the repository root, e.g. bench/experiments/pair_short_traces.patch) are applied to the copy, in order.
# shellcheck shell=bash

_repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
if [ -e "$1" ]; then echo "$(basename "$0"): $1 exists; give a new directory" >&2; exit 2; fi
mkdir -p "$1"
git -C "$_repo" archive HEAD | tar -x -C "$1"
ln -s "$_repo/.venv" "$1/.venv"
for _patch in ${PATCHES:-}; do
  (cd "$1" && git apply "$_repo/$_patch") || { echo "$(basename "$0"): $_patch does not apply" >&2; exit 2; }
done
cd "$1" || exit 2
# shellcheck disable=SC2034  # read by the calling script
WORK=$PWD

t1() { .venv/bin/python -m t1core.cli "${DATA[@]}" "$@"; }

# The pipeline's stages at the script's settings, then `t1 eval` (SFT and the RL rounds at 30/60/90/100 % of
# training: metrics/eval.json, reports/scaling.png).
t1_pipeline() {
  t1 curate
  t1 synthesize
  t1 sft
  t1 rl
  t1 eval
  echo "results: $WORK/metrics/eval.json, $WORK/reports/eval/*/report.json"
}
