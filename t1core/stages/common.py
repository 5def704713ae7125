"""What every stage does around its work: run identity and the metrics file."""

import time
from pathlib import Path
from typing import Any

from t1core.config import Params
from t1core.data.jsonl import write_json
from t1core.identity import run_identity


def write_stage_metrics(params: Params, stage: str, metrics: dict[str, Any], started: float | None) -> Path:
    """metrics/<stage>.json: the stage's numbers plus run identity and wall time (omitted when `started` is None:
    a stage that runs on every `dvc repro` would otherwise change its file, and dvc.lock, each time)."""
    path = Path(params.paths.metrics_dir) / f"{stage}.json"
    wall = {} if started is None else {"wall_s": round(time.monotonic() - started, 3)}
    write_json(path, {**metrics, "run": run_identity(params), **wall})
    return path
