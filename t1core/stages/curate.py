"""Stage `curate`: sources -> data/curated/{sft,rl,heldout}.jsonl (+ quarantine) and metrics/curate.json."""

import time
from pathlib import Path

from t1core.config import Params
from t1core.data.curate import SPLITS, curate
from t1core.data.jsonl import write_jsonl
from t1core.grading import Grader
from t1core.stages.common import write_stage_metrics


def run(params: Params) -> dict:
    started = time.monotonic()
    with Grader.from_config(params.grading) as grader:
        result = curate(params.data, grader, params.seed)
    out = Path(params.paths.curated_dir)
    for name in SPLITS:
        write_jsonl(out / f"{name}.jsonl", (p.model_dump(mode="json") for p in result.splits[name]))
    result.quarantine.write(out / "quarantine.jsonl")
    metrics = result.metrics()
    write_stage_metrics(params, "curate", metrics, started)
    return metrics
