# Sourced by the experiment scripts: `scratch_copy WORK` fills WORK, which must not exist yet, with a
# scratch copy of this commit (the repository's own data/, models/ and metrics/ are never touched) and a
# link to the repository's .venv, and prints WORK's absolute path. `t1 ...` runs the CLI with the script's
# DATA overrides.
# shellcheck shell=bash

scratch_copy() {
    local repo
    repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
    if [ -e "$1" ]; then echo "$(basename "$0"): $1 exists; give a new directory" >&2; exit 2; fi
    mkdir -p "$1"
    git -C "$repo" archive HEAD | tar -x -C "$1"
    ln -s "$repo/.venv" "$1/.venv"
    cd "$1" && pwd
}

t1() { .venv/bin/python -m t1core.cli "${DATA[@]}" "$@"; }
