"""RL ablations on the embedded task: one seed, one wall budget per arm, one table.

    python bench/ablations.py --minutes 4 [--arms t1 k4 ...] [--out bench/results/ablations.json]

Needs the pipeline's SFT outputs (`dvc repro sft`): every arm starts from
models/sft/final and is evaluated by the same held-out evaluator (all held-out items,
greedy and sampled pass@1 at eval.temperature). RL arms run `t1 rl` with
`rl.max_minutes` = the budget and rounds enough that the cap, not the planned steps,
ends them; the continued-SFT arms run `t1 sft` from the SFT model for the same budget,
a cosine from the arm's lr annealed over it (`sft.anneal_within_cap`).
Training minutes, evals excluded, in both. Each arm writes into
its own directory under `--work` (default .cache/ablations), so the pipeline's outputs
are never touched. Arms run one after another: two torch processes on the same cores
slow each other down by far more than 2x.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

NO_PENALTIES = ["rl.penalty_overlong=false", "rl.penalty_repetition=false", "rl.penalty_garbage=false",
                "rl.penalty_spam=false", "rl.penalty_padding=false"]
PLAIN_RLOO = ["rl.entropy_coef=0", "rl.kl_coef=0", "rl.frozen_reference=true", *NO_PENALTIES]
ARMS: dict[str, tuple[str, list[str]]] = {  # name -> (stage, --set overrides on top of params.yaml)
    "t1": ("rl", []),
    "k4": ("rl", ["rl.k=4"]),
    "k16": ("rl", ["rl.k=16"]),
    "tau0.8": ("rl", ["rl.temperature=0.8"]),
    "tau1.0": ("rl", ["rl.temperature=1.0"]),
    "no_entropy": ("rl", ["rl.entropy_coef=0"]),
    "frozen_ref": ("rl", ["rl.frozen_reference=true"]),
    "no_penalties": ("rl", NO_PENALTIES),
    "plain_rloo": ("rl", PLAIN_RLOO),
    "lr2e-4": ("rl", ["rl.lr=2e-4"]),
    # DESIGN.md's prototype recipe (72 -> 89 % greedy on 2-digit products): plain RLOO, 32 prompts x 8, lr 1e-4
    "prototype_rloo": ("rl", [*PLAIN_RLOO, "rl.prompts_per_step=32", "rl.lr=1e-4"]),
    "more_sft": ("sft", ["sft.lr=3e-4"]),  # the SFT's floor lr
    "more_sft_lr1e-3": ("sft", ["sft.lr=1e-3"]),  # run S's better continued-SFT lr
}
RUN_TO_CAP = 1000  # RL rounds / SFT epochs: more than any budget reaches, so the time cap ends every arm


def arm_overrides(name: str, minutes: float, work: Path, repo: Path) -> tuple[str, list[str]]:
    """The stage an arm runs and its --set list: the arm's own overrides come last, so they win."""
    stage, arm_sets = ARMS[name]
    arm_dir = work / name
    arm_dir.mkdir(parents=True, exist_ok=True)
    sets = [f"paths.models_dir={arm_dir / 'models'}", f"paths.metrics_dir={arm_dir / 'metrics'}",
            f"paths.reports_dir={arm_dir / 'reports'}", "tracking.enabled=false"]
    if stage == "rl":
        (arm_dir / "models").mkdir(parents=True, exist_ok=True)
        link = arm_dir / "models" / "sft"
        if not link.exists():
            link.symlink_to((repo / "models" / "sft").resolve(), target_is_directory=True)
        return stage, [*sets, f"rl.max_minutes={minutes}", f"rl.rounds={RUN_TO_CAP}", "rl.resume=false", *arm_sets]
    # continued SFT: from the SFT model, a fresh cosine from the arm's lr, annealed over the same minutes
    return stage, [*sets, "model.kind=hf", f"model.path={(repo / 'models' / 'sft' / 'final').resolve()}",
                   f"sft.max_minutes={minutes}", f"sft.epochs={RUN_TO_CAP}", "sft.anneal_within_cap=true",
                   "sft.resume=false", "sft.eval_every_minutes=null", "sft.warmup_fraction=0", *arm_sets]


def run_arm(name: str, minutes: float, work: Path, repo: Path) -> dict:
    stage, sets = arm_overrides(name, minutes, work, repo)
    cmd = [sys.executable, "-m", "t1core.cli", *[a for s in sets for a in ("--set", s)], stage]
    t0 = time.monotonic()
    log = work / name / "log.txt"
    with open(log, "w") as fh:
        rc = subprocess.run(cmd, cwd=repo, stdout=fh, stderr=subprocess.STDOUT, env=os.environ.copy()).returncode
    if rc != 0:
        raise SystemExit(f"arm {name} failed (exit {rc}); see {log}")
    m = json.loads((work / name / "metrics" / f"{stage}.json").read_text())
    return {
        "arm": name, "stage": stage, "overrides": ARMS[name][1], "wall_s": round(time.monotonic() - t0, 1),
        "train_minutes": m["train_minutes"], "steps": m["steps"],
        "greedy": m["heldout_accuracy_greedy"], "pass1_t1": m["heldout_pass1_t1"],
        "start_greedy": m.get("start", {}).get("heldout_accuracy_greedy"),
        "start_pass1_t1": m.get("start", {}).get("heldout_pass1_t1"),
    }


def markdown(report: dict) -> str:
    """The table for docs/ablations.md."""
    head = "| arm | overrides | steps | train min | greedy | Δ greedy | pass@1 T=1 | Δ pass@1 |\n|---|---|---|---|---|---|---|---|"
    lines = [head]
    starts = [r for r in report["rows"] if r["start_greedy"] is not None]  # every arm starts from the same SFT model
    for r in report["rows"]:
        sg = r["start_greedy"] if r["start_greedy"] is not None else (starts[0]["start_greedy"] if starts else None)
        sp = r["start_pass1_t1"] if r["start_pass1_t1"] is not None else (starts[0]["start_pass1_t1"] if starts else None)
        dg = f"{100 * (r['greedy'] - sg):+.1f}" if sg is not None else "—"
        dp = f"{100 * (r['pass1_t1'] - sp):+.1f}" if sp is not None else "—"
        own = [f"`{o}`" for o in r["overrides"]]
        sets = ", ".join(["`t1 sft` from the SFT model, cosine annealed over the budget", *own] if r["stage"] == "sft"
                         else own or ["(defaults)"])
        lines.append(f"| {r['arm']} | {sets} | {r['steps']} | {r['train_minutes']:.2f} | {100 * r['greedy']:.1f} % | {dg} "
                     f"| {100 * r['pass1_t1']:.1f} % | {dp} |")
    return "\n".join(lines)


def _earlier_rows(out: Path, minutes: float, arms: list[str]) -> list[dict]:
    """Rows of a previous run with the same budget for the arms not rerun now."""
    if not out.is_file():
        return []
    old = json.loads(out.read_text())
    return [r for r in old["rows"] if r["arm"] not in arms] if old.get("minutes_per_arm") == minutes else []


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=4.0, help="training budget per arm")
    ap.add_argument("--arms", nargs="+", default=list(ARMS), choices=list(ARMS))
    ap.add_argument("--work", type=Path, default=Path(".cache/ablations"))
    ap.add_argument("--out", type=Path, default=Path("bench/results/ablations.json"))
    ap.add_argument("--markdown", action="store_true", help="only print the table of an existing --out file")
    args = ap.parse_args()
    if args.markdown:
        print(markdown(json.loads(args.out.read_text())))
        return
    repo = Path.cwd()
    if not (repo / "models" / "sft" / "final" / "config.json").is_file():
        raise SystemExit("models/sft/final is missing: run `dvc repro sft` (or `make run`) first")
    rows = _earlier_rows(args.out, args.minutes, args.arms)  # rerunning some arms keeps the others
    for name in args.arms:
        print(f"arm {name} ...", file=sys.stderr, flush=True)
        rows.append(run_arm(name, args.minutes, args.work.resolve(), repo))
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
        rows.sort(key=lambda r: list(ARMS).index(r["arm"]))
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"minutes_per_arm": args.minutes, "rows": rows}, indent=2) + "\n")
    print(markdown({"rows": rows}))


if __name__ == "__main__":
    main()
