"""What every stage does around its work: run identity and the metrics file."""

import time
from pathlib import Path
from typing import Any

from t1core import __version__
from t1core.config import Params
from t1core.data.jsonl import write_json
from t1core.grading import GRADER_VERSION


def run_identity(params: Params) -> dict[str, Any]:
    return {
        "config_hash": params.config_hash(),
        "profile": params.profile,
        "seed": params.seed,
        "t1_version": __version__,
        "grader_version": GRADER_VERSION,
    }


def write_stage_metrics(params: Params, stage: str, metrics: dict[str, Any], started: float) -> Path:
    """metrics/<stage>.json: the stage's numbers plus run identity and wall time."""
    path = Path(params.paths.metrics_dir) / f"{stage}.json"
    write_json(path, {**metrics, "run": run_identity(params), "wall_s": round(time.monotonic() - started, 3)})
    return path
