"""Orchestration overhead (issue #8): a no-op `dvc repro`, and Prefect's cost per stage.

Run after `make run` (every stage up to date; it refuses otherwise, since a "no-op" repro would
rerun the changed stages), alone on the machine:

    python bench/orchestration.py --runs 5 --out bench/results/orchestration.json

- `dvc repro` with nothing to do (the `promote` stage always runs);
- per stage, `dvc repro --single-item <stage>` called directly against the same call made
  by the stage's Prefect flow (`flows.pipeline.<stage>`: flow run, task run, log streaming,
  the MLflow parent run it opens and closes), in one process against Prefect's ephemeral
  API. The first flow call also starts that API; it is reported apart and left out of
  the per-stage numbers. The flows write nothing to params.yaml (default parameters).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STAGES = ("curate", "synthesize", "sft", "rl", "evaluate", "promote")


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _dvc(*args: str) -> None:
    subprocess.run([str(Path(sys.executable).parent / "dvc"), "repro", *args], cwd=REPO, check=True, capture_output=True)


def _stats(xs: list[float]) -> dict[str, float]:
    return {"median": round(statistics.median(xs), 3), "min": round(min(xs), 3), "max": round(max(xs), 3), "runs": len(xs)}


def require_up_to_date() -> None:
    """A no-op repro is only a no-op when every stage is up to date; otherwise this bench would rerun stages
    (SFT and RL take minutes) and time them."""
    res = subprocess.run([str(Path(sys.executable).parent / "dvc"), "status", "--json"], cwd=REPO, check=True,
                         capture_output=True, text=True)
    changed = sorted(set(json.loads(res.stdout or "{}")) - {"promote"})  # promote always runs
    if changed:
        raise SystemExit(f"bench/orchestration.py: stages not up to date: {', '.join(changed)}; run `make run` first")


def measure(runs: int) -> dict:
    import flows.pipeline as pipeline

    require_up_to_date()

    out: dict = {"noop_dvc_repro_s": _stats([_timed(_dvc) for _ in range(runs)])}
    out["prefect_first_flow_s"] = round(_timed(getattr(pipeline, "curate")), 3)  # starts the ephemeral API
    per_stage = {}
    for stage in STAGES:
        direct = [_timed(lambda: _dvc("--single-item", stage)) for _ in range(runs)]
        flow = [_timed(getattr(pipeline, stage)) for _ in range(runs)]
        per_stage[stage] = {"direct_s": _stats(direct), "flow_s": _stats(flow),
                            "overhead_s": round(statistics.median(flow) - statistics.median(direct), 3)}
    out["per_stage"] = per_stage
    return out


def markdown(res: dict) -> str:
    lines = ["| stage | direct `dvc repro --single-item` (median, min-max) | Prefect flow (median, min-max) | overhead |",
             "|---|---|---|---|"]
    for stage, r in res["per_stage"].items():
        d, f = r["direct_s"], r["flow_s"]
        lines.append(f"| {stage} | {d['median']} s ({d['min']}-{d['max']}) | {f['median']} s ({f['min']}-{f['max']}) | "
                     f"{r['overhead_s']:+.2f} s |")
    n = res["noop_dvc_repro_s"]
    lines.append(f"\nNo-op `dvc repro`: median {n['median']} s (min {n['min']}, max {n['max']}, {n['runs']} runs); "
                 f"first flow call (starts Prefect's ephemeral API): {res['prefect_first_flow_s']} s.")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    res = measure(args.runs)
    if args.out:
        args.out.write_text(json.dumps(res, indent=1) + "\n")
    print(markdown(res))


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    main()
