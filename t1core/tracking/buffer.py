"""A stage run's MLflow events, kept on local disk while the tracking server cannot be reached.

Policy: training never waits on tracking. When a call to the server fails, the run goes
offline: every later event (run start, metrics with their step and time, artifacts,
the end) is appended to `<buffer dir>/<run>.jsonl` (artifacts are copied next to it),
and the stage goes on. The buffer is uploaded, in order, at the end of the run if the
server is back, at the start of the next tracked stage, or by `t1 tracking-sync`.
Replay is resumable: `<run>.progress.json` records how many events were applied and the
run they went to, so a sync that fails half-way never logs an event twice.
"""

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

BUFFER_ENV = "T1_TRACKING_BUFFER"
PARAMS_PER_BATCH = 100  # MLflow's log_batch limit for params
METRICS_PER_BATCH = 1000


def buffer_dir() -> Path:
    return Path(os.environ.get(BUFFER_ENV, ".t1/mlflow-buffer"))


def experiment_id(client: Any, name: str) -> str:
    """The id of experiment `name` (created if missing), through an MlflowClient."""
    found = client.get_experiment_by_name(name)
    return found.experiment_id if found else client.create_experiment(name)


def open_run(client: Any, experiment: str, run_name: str, tags: dict[str, str], params: dict[str, str], config: dict) -> str:
    """Create the run with its tags, params and `params.json`; returns its id."""
    from mlflow.entities import Param
    from mlflow.tracking.context.registry import resolve_tags

    run_id = client.create_run(experiment_id(client, experiment), run_name=run_name, tags=resolve_tags(tags)).info.run_id
    items = [Param(k, v) for k, v in params.items()]
    for i in range(0, len(items), PARAMS_PER_BATCH):
        client.log_batch(run_id, params=items[i:i + PARAMS_PER_BATCH])
    client.log_dict(run_id, config, "params.json")
    return run_id


def log_metrics(client: Any, run_id: str, metrics: dict[str, float], step: int | None, timestamp_ms: int) -> None:
    from mlflow.entities import Metric

    items = [Metric(k, float(v), timestamp_ms, step or 0) for k, v in metrics.items()]
    for i in range(0, len(items), METRICS_PER_BATCH):
        client.log_batch(run_id, metrics=items[i:i + METRICS_PER_BATCH])


class TrackingBuffer:
    """Append-only JSONL of one run's events (flushed per event), for one tracking URI."""

    def __init__(self, name: str, uri: str, first: dict[str, Any]):
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in name)
        self.path = buffer_dir() / f"{stamp}-{os.getpid()}-{safe}.jsonl"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.files = self.path.with_suffix(".files")
        self.add({"op": "uri", "uri": uri})
        self.add(first)

    def add(self, event: dict[str, Any]) -> None:
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(event) + "\n")

    def add_artifact(self, path: Path) -> None:
        """Copy the file now (the stage may overwrite it later) and record the copy."""
        self.files.mkdir(exist_ok=True)
        copy = self.files / f"{len(list(self.files.iterdir())):04d}" / path.name
        copy.parent.mkdir()
        shutil.copy2(path, copy)
        self.add({"op": "artifact", "path": str(copy)})


def pending(uri: str | None = None) -> list[Path]:
    """Buffered runs, oldest first (only those for `uri` when given)."""
    found = sorted(buffer_dir().glob("*.jsonl")) if buffer_dir().is_dir() else []
    return [p for p in found if uri is None or _events(p)[0].get("uri") == uri]


def _events(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def replay(path: Path, client: Any) -> str:
    """Apply a buffer's remaining events to the server; deletes the buffer when done. Returns the run id."""
    progress_file = path.with_suffix(".progress.json")
    progress = json.loads(progress_file.read_text()) if progress_file.is_file() else {"applied": 0, "run_id": None}
    events = _events(path)
    for i, event in enumerate(events[progress["applied"]:], start=progress["applied"]):
        progress["run_id"] = _apply(client, event, progress["run_id"])
        progress["applied"] = i + 1
        progress_file.write_text(json.dumps(progress))
    shutil.rmtree(path.with_suffix(".files"), ignore_errors=True)
    path.unlink()
    progress_file.unlink(missing_ok=True)
    return progress["run_id"]


def _apply(client: Any, event: dict[str, Any], run_id: str | None) -> str | None:
    op = event["op"]
    if op == "start":
        return open_run(client, event["experiment"], event["run_name"], event["tags"], event["params"], event["config"])
    if op == "attach":
        return event["run_id"]
    if op == "metrics":
        log_metrics(client, run_id, event["metrics"], event["step"], event["timestamp_ms"])
    elif op == "artifact":
        client.log_artifact(run_id, event["path"])
    elif op == "end":
        client.set_terminated(run_id, event["status"], end_time=event["timestamp_ms"])
    return run_id


def sync(uri: str) -> list[tuple[Path, str]]:
    """Upload every buffered run for `uri`; returns (buffer, run id) per run uploaded. Raises if the server is down."""
    from mlflow import MlflowClient

    client = MlflowClient(uri)
    return [(path, replay(path, client)) for path in pending(uri)]
