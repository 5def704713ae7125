"""Stage `synthesize`: curated SFT pool -> <synth_dir>/sft.jsonl (validated traces) and metrics/synthesize.json."""

import time
from pathlib import Path

from t1core.config import Params
from t1core.data.jsonl import model_parser, read_jsonl, write_jsonl
from t1core.data.records import Problem
from t1core.grading import Grader
from t1core.stages.common import write_stage_metrics
from t1core.synth.produce import synthesize


def run(params: Params) -> dict:
    started = time.monotonic()
    pool = list(read_jsonl(Path(params.paths.curated_dir) / "sft.jsonl", model_parser(Problem)))
    cfg = params.synth
    with Grader.from_config(params.grading) as grader:
        traces, stats = synthesize(pool, cfg.trial_and_error_fraction, cfg.traces_per_problem, params.seed, grader)
    write_jsonl(Path(params.paths.synth_dir) / "sft.jsonl", (t.model_dump(mode="json") for t in traces))
    n = max(stats["traces"], 1)
    metrics = {
        "problems": len(pool),
        "traces": stats["traces"],
        "no_producer": stats["no_producer"],
        "slip_fraction": round(stats["with_slip"] / n, 4),
        "mean_response_chars": round(sum(len(t.response) for t in traces) / n, 1),
        "validated": stats["traces"],
    }
    write_stage_metrics(params, "synthesize", metrics, started)
    return metrics
