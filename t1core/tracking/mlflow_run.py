"""One MLflow run per stage invocation: resolved params, per-step metrics, artifacts.

Disabled (`tracking.enabled: false`) it does nothing, so stages never branch on it.
When `T1_PARENT_RUN_ID` is set (the Prefect pipeline flow sets it for the stages it runs,
also through `dvc repro` subprocesses) the run is nested under that parent run through
MLflow's `mlflow.parentRunId` tag.
"""

import os
from pathlib import Path
from typing import Any

from t1core.config import Params
from t1core.identity import run_identity

PARENT_ENV = "T1_PARENT_RUN_ID"


def flatten(d: dict[str, Any], prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, key + "."))
        else:
            out[key] = str(v)[:500]
    return out


def identity_tags(params: Params, stage: str) -> dict[str, str]:
    """The tags every t1 run carries: run identity (`t1.config_hash`, ...) and `t1.stage`."""
    return {f"t1.{k}": str(v) for k, v in run_identity(params).items()} | {"t1.stage": stage}


def experiment_id(client: Any, name: str) -> str:
    """The id of experiment `name` (created if missing), through an MlflowClient."""
    found = client.get_experiment_by_name(name)
    return found.experiment_id if found else client.create_experiment(name)


class StageRun:
    def __init__(self, params: Params, stage: str, enabled: bool = True):
        self.params, self.stage = params, stage
        self.enabled = enabled and params.tracking.enabled
        self._mlflow: Any = None

    def __enter__(self) -> "StageRun":
        if not self.enabled:
            return self
        import mlflow

        self._mlflow = mlflow
        mlflow.set_tracking_uri(self.params.tracking.mlflow_uri)
        mlflow.set_experiment(self.params.tracking.experiment)
        tags = identity_tags(self.params, self.stage)
        if os.environ.get(PARENT_ENV):
            tags["mlflow.parentRunId"] = os.environ[PARENT_ENV]
        mlflow.start_run(run_name=self.stage, tags=tags)
        resolved = self.params.model_dump(mode="json")
        mlflow.log_params(flatten(resolved))
        mlflow.log_dict(resolved, "params.json")  # the resolved config, whole, as an artifact
        return self

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        if self._mlflow:
            self._mlflow.log_metrics({k: float(v) for k, v in metrics.items()}, step=step)

    def log_artifact(self, path: str | Path) -> None:
        if self._mlflow and Path(path).exists():
            self._mlflow.log_artifact(str(path))

    @property
    def run_id(self) -> str | None:
        run = self._mlflow.active_run() if self._mlflow else None
        return run.info.run_id if run else None

    def __exit__(self, exc_type: Any, *_: Any) -> None:
        if self._mlflow:
            self._mlflow.end_run(status="FAILED" if exc_type else "FINISHED")
