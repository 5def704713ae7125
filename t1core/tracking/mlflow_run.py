"""One MLflow run per stage invocation: resolved params, per-step metrics, artifacts.

Disabled (`tracking.enabled: false`) it does nothing, so stages never branch on it.
When the server is unreachable the run is buffered locally and uploaded later (buffer.py).
When `T1_PARENT_RUN_ID` is set (the Prefect pipeline flow sets it for the stages it runs,
also through `dvc repro` subprocesses) the run is nested under that parent run through
MLflow's `mlflow.parentRunId` tag.
"""

import os
import sys
import time
from pathlib import Path
from typing import Any

from t1core.config import Params
from t1core.identity import run_identity
from t1core.tracking.buffer import TrackingBuffer, buffer_dir, experiment_id, log_metrics, open_run, replay, sync

__all__ = ["PARENT_ENV", "StageRun", "experiment_id", "flatten", "identity_tags"]

PARENT_ENV = "T1_PARENT_RUN_ID"
# a stage's tracking calls give up in seconds, not MLflow's default minutes of retries (a user's settings win)
FAIL_FAST = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1", "MLFLOW_HTTP_REQUEST_TIMEOUT": "30"}


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


class StageRun:
    """The MLflow run of one stage invocation. Tracking never stops training: when the server cannot be
    reached the run continues offline into a local buffer (t1core.tracking.buffer), uploaded later."""

    RETRY_S = 60.0  # while offline, how often a metrics call tries the server again

    def __init__(self, params: Params, stage: str, enabled: bool = True):
        self.params, self.stage = params, stage
        self.enabled = enabled and params.tracking.enabled
        self.uri = params.tracking.mlflow_uri
        self._client: Any = None
        self._run_id: str | None = None
        self._buffer: TrackingBuffer | None = None
        self._retry_at = 0.0

    def __enter__(self) -> "StageRun":
        if not self.enabled:
            return self
        for key, value in FAIL_FAST.items():
            os.environ.setdefault(key, value)
        from mlflow import MlflowClient

        tags = identity_tags(self.params, self.stage)
        if os.environ.get(PARENT_ENV):
            tags["mlflow.parentRunId"] = os.environ[PARENT_ENV]
        resolved = self.params.model_dump(mode="json")
        start = {"experiment": self.params.tracking.experiment, "run_name": self.stage, "tags": tags,
                 "params": flatten(resolved), "config": resolved}
        self._client = MlflowClient(self.uri)
        try:
            self._run_id = open_run(self._client, **start)
            _sync_earlier(self.uri)
        except Exception as e:  # noqa: BLE001 - any tracking failure: go offline, never stop the stage
            self._go_offline(e, {"op": "start", **start})
        return self

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        if not self.enabled:
            return
        now = int(time.time() * 1000)
        if self._buffer is not None and time.monotonic() >= self._retry_at:
            self._try_online()
        if self._buffer is None:
            try:
                log_metrics(self._client, self._run_id, metrics, step, now)
                return
            except Exception as e:  # noqa: BLE001
                self._go_offline(e, {"op": "attach", "run_id": self._run_id})
        self._buffer.add({"op": "metrics", "metrics": {k: float(v) for k, v in metrics.items()}, "step": step, "timestamp_ms": now})

    def log_artifact(self, path: str | Path) -> None:
        if not self.enabled or not Path(path).exists():
            return
        if self._buffer is None:
            try:
                self._client.log_artifact(self._run_id, str(path))
                return
            except Exception as e:  # noqa: BLE001
                self._go_offline(e, {"op": "attach", "run_id": self._run_id})
        self._buffer.add_artifact(Path(path))

    @property
    def run_id(self) -> str | None:
        """The server's id of this run (None when tracking is off, or the run has not reached the server yet)."""
        return self._run_id

    def __exit__(self, exc_type: Any, *_: Any) -> None:
        if not self.enabled:
            return
        status = "FAILED" if exc_type else "FINISHED"
        if self._buffer is None:
            try:
                self._client.set_terminated(self._run_id, status)
                return
            except Exception as e:  # noqa: BLE001
                self._go_offline(e, {"op": "attach", "run_id": self._run_id})
        self._buffer.add({"op": "end", "status": status, "timestamp_ms": int(time.time() * 1000)})
        self._try_online()
        if self._buffer is not None:
            print(f"t1: MLflow at {self.uri} is unreachable; run '{self.stage}' is kept in {self._buffer.path} "
                  f"and is uploaded by the next tracked stage or `t1 tracking-sync`", file=sys.stderr)

    # ------------------------------------------------------------ offline mode
    def _go_offline(self, error: Exception, first: dict[str, Any]) -> None:
        self._buffer = TrackingBuffer(self.stage, self.uri, first)
        self._retry_at = time.monotonic() + self.RETRY_S
        print(f"t1: MLflow at {self.uri} failed ({str(error).splitlines()[0][:200]}); "
              f"buffering run '{self.stage}' in {self._buffer.path}", file=sys.stderr)

    def _try_online(self) -> None:
        """Upload the buffer; on success the run continues online (under the run id the upload created)."""
        try:
            self._run_id = replay(self._buffer.path, self._client)
            self._buffer = None
        except Exception:  # noqa: BLE001 - still unreachable: stay offline, try again later
            self._retry_at = time.monotonic() + self.RETRY_S


def _sync_earlier(uri: str) -> None:
    """Upload runs buffered by earlier stages while the server was down (best effort)."""
    try:
        for path, run_id in sync(uri):
            print(f"t1: uploaded buffered run {path.name} to MLflow as {run_id}", file=sys.stderr)
    except Exception as e:  # noqa: BLE001
        print(f"t1: buffered MLflow runs stay in {buffer_dir()} ({str(e).splitlines()[0][:200]})", file=sys.stderr)
