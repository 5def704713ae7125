"""Prefect tasks: a DVC stage, an RL round report, and the MLflow parent run of a pipeline run.

Each stage runs as `dvc repro --single-item <stage>` in the project: DVC decides whether the
stage's code runs or its outputs come from the cache, and writes dvc.lock, so lineage is
DVC's own. The stage processes inherit T1_PARENT_RUN_ID, so their MLflow runs nest under
the pipeline's parent run.
"""

import json
import os
import subprocess
from typing import Any

from prefect import get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE

from flows.settings import BIN, PROJECT, with_bin
from t1core.config import Params
from t1core.tracking.mlflow_run import PARENT_ENV

STAGE_TIMEOUT_S = 6 * 3600


class DvcLockBusy(RuntimeError):
    """Another DVC command holds the workspace lock: transient, worth a retry."""


LOCK_MESSAGES = ("Unable to acquire lock", "is busy, it is being blocked by")  # DVC's repo lock, its per-path rwlock


def _lock_busy(task: Any, task_run: Any, state: Any) -> bool:
    return isinstance(state.data, DvcLockBusy) or any(m in (state.message or "") for m in LOCK_MESSAGES)


@task(retries=3, retry_delay_seconds=20, retry_condition_fn=_lock_busy, task_run_name="{stage}", cache_policy=NO_CACHE)
def run_stage(stage: str, parent_run_id: str | None = None) -> dict[str, Any]:
    """`dvc repro --single-item <stage>`; returns whether it ran and the stage's metrics file.

    Retried only when DVC's lock is held by another command (a transient failure); a stage
    that fails on its own is not rerun (DVC's cache and the trainers' resume make a manual
    rerun cheap)."""
    log = get_run_logger()
    env = with_bin({**os.environ, **({PARENT_ENV: parent_run_id} if parent_run_id else {})})
    proc = subprocess.Popen([str(BIN / "dvc"), "repro", "--single-item", stage], cwd=PROJECT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    for line in proc.stdout:  # DVC and the stage's progress, live in the Prefect log
        lines.append(line)
        log.info(line.rstrip()[-500:])
    if proc.wait(STAGE_TIMEOUT_S) != 0:
        error = DvcLockBusy if any(m in line for line in lines for m in LOCK_MESSAGES) else RuntimeError
        raise error(f"dvc repro {stage} failed with exit code {proc.returncode}:\n{''.join(lines[-40:])}")
    ran = any(f"Running stage '{stage}'" in line for line in lines)
    return {"stage": stage, "ran": ran, "metrics": _metrics(stage)}


def _metrics(stage: str) -> dict[str, Any]:
    name = "eval" if stage == "evaluate" else stage
    path = PROJECT / "metrics" / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else {}


@task(task_run_name="rl-round-{record[round]}", cache_policy=NO_CACHE)
def report_round(record: dict[str, Any]) -> dict[str, Any]:
    """One RL round's held-out numbers, as a task run with a table artifact (the rounds run inside the rl stage)."""
    rows = [{"metric": k, "value": v} for k, v in record.items() if isinstance(v, (int, float))]
    create_table_artifact(rows, key=f"rl-round-{record['round']}", description=f"RL round {record['round']}")
    return record


@task(retries=3, retry_delay_seconds=5, cache_policy=NO_CACHE)
def open_parent_run(params: Params, flow_run_name: str, changes: list[str]) -> str | None:
    """The MLflow parent run of a pipeline run (None when tracking is off); retried while the server is unreachable."""
    if not params.tracking.enabled:
        return None
    from mlflow import MlflowClient

    from t1core.tracking.mlflow_run import experiment_id, flatten, identity_tags

    client = MlflowClient(params.tracking.mlflow_uri)
    tags = identity_tags(params, "pipeline") | {"t1.changes": " ".join(changes)}
    exp = experiment_id(client, params.tracking.experiment)
    run_id = client.create_run(exp, run_name=f"pipeline:{flow_run_name}", tags=tags).info.run_id
    for key, value in flatten(params.model_dump(mode="json")).items():
        client.log_param(run_id, key, value)
    return run_id


@task(retries=3, retry_delay_seconds=5, cache_policy=NO_CACHE)
def close_parent_run(params: Params, run_id: str | None, outcomes: list[dict[str, Any]], failed: bool) -> None:
    if run_id is None:
        return
    from mlflow import MlflowClient

    client = MlflowClient(params.tracking.mlflow_uri)
    for o in outcomes:
        client.set_tag(run_id, f"t1.stage.{o['stage']}", "ran" if o["ran"] else "cached")
    client.set_terminated(run_id, "FAILED" if failed else "FINISHED")
