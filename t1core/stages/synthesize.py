"""Stage `synthesize`: curated SFT pool -> <synth_dir>/sft.jsonl (validated traces) and metrics/synthesize.json."""

import time
from collections import Counter
from pathlib import Path

from t1core.config import Params
from t1core.data.jsonl import model_parser, read_jsonl, write_jsonl
from t1core.data.records import DataError, Problem
from t1core.grading import Grader
from t1core.stages.common import write_stage_metrics
from t1core.synth.produce import synthesize, synthesize_reference
from t1core.synth.schema import Trace


def run(params: Params) -> dict:
    started = time.monotonic()
    pool_path = Path(params.paths.curated_dir) / "sft.jsonl"
    pool = list(read_jsonl(pool_path, model_parser(Problem)))
    with Grader.from_config(params.grading) as grader:
        traces, stats = _produce(params, pool, grader)
    if not traces:
        raise DataError(str(pool_path), 0, None, f"the {params.synth.producer} producer kept no trace of {len(pool)} problems ({dict(stats)})")
    write_jsonl(Path(params.paths.synth_dir) / "sft.jsonl", (t.model_dump(mode="json") for t in traces))
    n = stats["traces"]
    metrics = {
        "problems": len(pool),
        "traces": n,
        "no_producer": stats["no_producer"],
        "slip_fraction": round(stats["with_slip"] / n, 4),
        "mean_response_chars": round(sum(len(t.response) for t in traces) / n, 1),
        "validated": n,
    }
    counts = {k: v for k, v in sorted(stats.items()) if k not in ("traces", "with_slip", "no_producer")}
    if counts:  # the teacher's attempts and every reason a problem gave no trace
        metrics[params.synth.producer] = counts
    write_stage_metrics(params, "synthesize", metrics, started)
    return metrics


def _produce(params: Params, pool: list[Problem], grader: Grader) -> tuple[list[Trace], Counter]:
    cfg = params.synth
    if cfg.producer == "teacher":
        from t1core.synth.teacher import TeacherProducer  # loads torch and the teacher models

        return TeacherProducer(cfg.teacher, params.model, grader, cfg.trial_and_error_fraction, params.seed).run(pool)
    if cfg.producer == "reference":
        return synthesize_reference(pool, grader)
    return synthesize(pool, cfg.trial_and_error_fraction, cfg.traces_per_problem, params.seed, grader)
