"""One MLflow run per stage invocation: resolved params, per-step metrics, artifacts.

Disabled (`tracking.enabled: false`) it does nothing, so stages never branch on it.
"""

from pathlib import Path
from typing import Any

from t1core.config import Params
from t1core.identity import run_identity


def flatten(d: dict[str, Any], prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, key + "."))
        else:
            out[key] = str(v)[:500]
    return out


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
        tags = {f"t1.{k}": str(v) for k, v in run_identity(self.params).items()} | {"t1.stage": self.stage}
        mlflow.start_run(run_name=self.stage, tags=tags)
        mlflow.log_params(flatten(self.params.model_dump(mode="json")))
        return self

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        if self._mlflow:
            self._mlflow.log_metrics({k: float(v) for k, v in metrics.items()}, step=step)

    def log_artifact(self, path: str | Path) -> None:
        if self._mlflow and Path(path).exists():
            self._mlflow.log_artifact(str(path))

    def __exit__(self, exc_type: Any, *_: Any) -> None:
        if self._mlflow:
            self._mlflow.end_run(status="FAILED" if exc_type else "FINISHED")
